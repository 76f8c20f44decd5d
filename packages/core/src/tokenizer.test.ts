import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOS_ID, EOS_ID, PAD_ID, TokenizerError, UNK_ID, WordTokenizer, splitWords } from './tokenizer.js';

const corpus = ['The cat sat on the mat.', "We're here, and the cat is too!", 'the end'];

describe('tokenizer', () => {
  it('splits like the HF Whitespace pre-tokenizer after lower-casing', () => {
    assert.deepEqual(splitWords("We're here, 1,000 cats!"), ['we', "'", 're', 'here', ',', '1', ',', '000', 'cats', '!']);
    assert.deepEqual(splitWords('Ünïcode wörds…'), ['ünïcode', 'wörds', '…']);
    assert.deepEqual(splitWords('   '), []);
  });

  it('puts specials at 0..3 and words by frequency, ties alphabetical', () => {
    const tok = WordTokenizer.build(corpus);
    assert.deepEqual(tok.vocabulary.slice(0, 4), ['<pad>', '<unk>', '<bos>', '<eos>']);
    assert.equal(tok.vocabulary[4], 'the'); // 4 times
    assert.equal(tok.vocabulary[5], 'cat'); // 2 times
    assert.equal(PAD_ID + UNK_ID + BOS_ID + EOS_ID, 6);
    // Order of the input does not change the vocabulary.
    assert.deepEqual(WordTokenizer.build([...corpus].reverse()).vocabulary, tok.vocabulary);
  });

  it('honours maxVocab and minCount', () => {
    const tok = WordTokenizer.build(corpus, { maxVocab: 6 });
    assert.deepEqual(tok.vocabulary, ['<pad>', '<unk>', '<bos>', '<eos>', 'the', 'cat']);
    const frequent = WordTokenizer.build(corpus, { minCount: 2 });
    assert.deepEqual(frequent.vocabulary.slice(4), ['the', 'cat']);
    assert.throws(() => WordTokenizer.build(corpus, { maxVocab: 2 }), TokenizerError);
    assert.throws(() => WordTokenizer.build(corpus, { minCount: 0 }), TokenizerError);
  });

  it('round-trips sentences and maps unknown words to <unk>', () => {
    const tok = WordTokenizer.build(corpus);
    const ids = tok.encode('The cat sat on the mat.');
    assert.equal(tok.decode(ids), 'the cat sat on the mat.');
    assert.equal(tok.decode(tok.encode("We're here, and the cat is too!")), "we're here, and the cat is too!");
    const unknown = tok.encode('the zebra sat');
    assert.equal(unknown[1], UNK_ID);
    assert.equal(tok.decode(unknown), 'the <unk> sat');
    // decode stops at <eos> and skips <pad>/<bos>.
    assert.equal(tok.decode([BOS_ID, ...tok.encode('the cat'), EOS_ID, ...tok.encode('mat'), PAD_ID]), 'the cat');
    assert.throws(() => tok.decode([tok.vocabSize]), /outside the vocabulary/);
  });

  it('writes and reads the Hugging Face WordLevel layout', () => {
    const tok = WordTokenizer.build(corpus);
    const json = tok.toJSON();
    assert.equal(json.model.type, 'WordLevel');
    assert.equal(json.model.unk_token, '<unk>');
    assert.deepEqual(json.added_tokens.map((t) => [t.id, t.content, t.special]), [
      [0, '<pad>', true],
      [1, '<unk>', true],
      [2, '<bos>', true],
      [3, '<eos>', true],
    ]);
    const back = WordTokenizer.fromJSON(JSON.stringify(json));
    assert.deepEqual(back.vocabulary, tok.vocabulary);
  });

  it('rejects tokenizer files it cannot use, naming the problem', () => {
    const good = WordTokenizer.build(corpus).toJSON();
    const cases: Array<[unknown, RegExp]> = [
      ['{not json', /not valid JSON/],
      [null, /no "model" object/],
      [{ model: { ...good.model, type: 'BPE' } }, /only "WordLevel"/],
      [{ model: { ...good.model, vocab: [] } }, /must be an object/],
      [{ model: { ...good.model, vocab: { ...good.model.vocab, extra: 99 } } }, /distinct integers/],
      [{ model: { ...good.model, vocab: { '<unk>': 0, '<pad>': 1, '<bos>': 2, '<eos>': 3 } } }, /Token id 0 must be "<pad>"/],
      [{ model: { ...good.model, unk_token: '[UNK]' } }, /unk_token/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => WordTokenizer.fromJSON(input), (e: unknown) => e instanceof TokenizerError && message.test((e as Error).message));
    }
  });
});
