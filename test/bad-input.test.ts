/**
 * Bad input everywhere, as tables: every CLI command and the public APIs meet missing paths, folders
 * in place of files, empty / binary / non-UTF-8 files, corrupt ONNX, manifests that lie, unsafe paths,
 * NaN and absurd numbers, unknown names. Each must give one clear line (naming the problem and what is
 * accepted), exit code 2 for bad input or usage (1 for failures while running), no stack trace, and
 * leave no output file behind.
 *
 * Adding a case is one line: a CLI row `[name, args, exit code, stderr regex]` in CLI_ROWS, or an API row
 * `[name, call, error class, message regex]` in API_ROWS. Placeholders in CLI args: `{run}` a trained
 * run folder, `{bundle}` its bundle, `{f}` the fixtures folder (see `makeFixtures`), `{tmp}` an empty
 * folder of the row's own, also the command's working directory, which must still be empty afterwards.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { ExportError, OnnxFormatError, UnsupportedLayerError, convertLayersModel, decodeModel, exportBundle, type ImageBundleSource } from '@vaekit/exporter';
import { exportRunBundle } from '../packages/cli/src/shared/run-source.js';
import {
  BundleError,
  InputError,
  assertSafeBundlePath,
  createRng,
  interpolateLatent,
  loadVae,
  parseManifest,
  sha256Hex,
  verifyFile,
  type ImageVae,
} from '@vaekit/runtime';
import { TokenizerError, WordTokenizer } from '@vaekit/core';
import {
  CheckpointError,
  TrainerError,
  buildImageVae,
  defaultImageConfig,
  loadCheckpoint,
  parseBackendChoice,
  resumeImageVae,
  saveCheckpoint,
  trainImageVae,
  validateImageConfig,
  writeConfig,
} from '@vaekit/trainer';
import { ROOT, tempDir, vaekitOk } from './helpers.js';

/** One CLI case: `vaekit ...args` must exit with `code` and print a line matching `message`. */
type CliRow = [name: string, args: string[], code: 1 | 2, message: RegExp];

const CLI_ROWS: CliRow[] = [
  // usage
  ['unknown command', ['frobnicate'], 2, /unknown command 'frobnicate'/],
  ['unknown option', ['sample', '{bundle}', '--frob'], 2, /unknown option '--frob'/],
  ['missing argument', ['export', '{run}'], 2, /missing required argument 'bundle-dir'/],
  ['train without a kind', ['train'], 2, /Usage: vaekit train/],
  // train image: numbers
  ['--epochs 0', ['train', 'image', '--epochs', '0', '--out', '{tmp}/r'], 2, /--epochs.*Expected an integer from 1 to 100000/],
  ['--epochs negative', ['train', 'image', '--epochs', '-5', '--out', '{tmp}/r'], 2, /--epochs.*Expected an integer from 1/],
  ['--epochs absurd', ['train', 'image', '--epochs', '1e12', '--out', '{tmp}/r'], 2, /--epochs.*Expected an integer from 1 to 100000/],
  ['--epochs not a number', ['train', 'image', '--epochs', 'ten', '--out', '{tmp}/r'], 2, /--epochs.*Expected an integer/],
  ['--latent 0', ['train', 'image', '--latent', '0', '--out', '{tmp}/r'], 2, /--latent.*Expected an integer from 1 to 4096/],
  ['--latent absurd', ['train', 'image', '--latent', '99999999', '--out', '{tmp}/r'], 2, /--latent.*from 1 to 4096/],
  ['--hidden with a word', ['train', 'image', '--hidden', '400,abc', '--out', '{tmp}/r'], 2, /--hidden.*Expected an integer/],
  ['--hidden empty', ['train', 'image', '--hidden', '', '--out', '{tmp}/r'], 2, /--hidden.*Expected an integer/],
  ['--hidden absurd', ['train', 'image', '--hidden', '100001', '--out', '{tmp}/r'], 2, /--hidden.*from 1 to 100000/],
  ['--beta NaN', ['train', 'image', '--beta', 'NaN', '--out', '{tmp}/r'], 2, /--beta.*Expected a number from 0 to 1000/],
  ['--beta negative', ['train', 'image', '--beta', '-1', '--out', '{tmp}/r'], 2, /--beta.*Expected a number from 0/],
  ['--lr Infinity', ['train', 'image', '--lr', 'Infinity', '--out', '{tmp}/r'], 2, /--lr.*Expected a number/],
  ['--lr 0', ['train', 'image', '--lr', '0', '--out', '{tmp}/r'], 2, /--lr.*Expected a number from 1e-9/],
  ['--batch-size 0', ['train', 'image', '--batch-size', '0', '--out', '{tmp}/r'], 2, /--batch-size.*Expected an integer from 1/],
  ['--limit 0', ['train', 'image', '--limit', '0', '--out', '{tmp}/r'], 2, /--limit.*Expected an integer from 1/],
  ['--seed negative', ['train', 'image', '--seed', '-1', '--out', '{tmp}/r'], 2, /--seed.*Expected an integer from 0/],
  ['--seed fraction', ['train', 'image', '--seed', '1.5', '--out', '{tmp}/r'], 2, /--seed.*Expected an integer/],
  // train image: names
  ['unknown training backend', ['train', 'image', '--backend', 'gpu', '--out', '{tmp}/r'], 2, /Should be one of: auto, node, wasm, cpu/],
  ['unknown architecture', ['train', 'image', '--arch', 'rnn', '--out', '{tmp}/r'], 2, /Should be one of: dense, conv/],
  // train image: paths
  ['--out is a file', ['train', 'image', '--out', '{f}/a-file', '--epochs', '1', '--limit', '64'], 2, /--out .*a-file exists and is not a folder/],
  ['--out below a file', ['train', 'image', '--out', '{f}/a-file/run', '--epochs', '1', '--limit', '64'], 2, /a-file is a file, not a folder/],
  ['--out not empty', ['train', 'image', '--out', '{run}', '--epochs', '1'], 2, /already exists and is not empty.*--force/],
  ['--resume with --force', ['train', 'image', '--resume', '--force', '--out', '{run}'], 2, /--resume and --force cannot be used together/],
  ['--resume of a missing run', ['train', 'image', '--resume', '--out', '{tmp}/none'], 2, /Run folder not found/],
  ['--resume of an empty folder', ['train', 'image', '--resume', '--out', '{f}/empty-dir'], 2, /Run configuration not found/],
  ['--resume before any checkpoint', ['train', 'image', '--resume', '--out', '{f}/run-no-latest'], 2, /latest\.json/],
  ['--resume with a binary config', ['train', 'image', '--resume', '--out', '{f}/run-binary-config'], 2, /config\.json/],
  ['--resume with a config of another kind', ['train', 'image', '--resume', '--out', '{f}/run-wrong-kind'], 2, /run-wrong-kind\/config\.json is not a vaekit run configuration \(kind image or text\)/],
  ['--resume with a config missing a field', ['train', 'image', '--resume', '--out', '{f}/run-config-no-hidden'], 2, /config\.json has a missing or invalid "hidden" field/],
  ['--resume with an invalid config value', ['train', 'image', '--resume', '--out', '{f}/run-config-negative-latent'], 2, /config\.json: latent must be a positive integer/],
  ['--resume with truncated weights', ['train', 'image', '--resume', '--epochs', '2', '--out', '{f}/run-truncated-weights'], 2, /weights\.bin|truncated or corrupt/],
  ['--resume with corrupt optimizer state', ['train', 'image', '--resume', '--epochs', '2', '--out', '{f}/run-bad-optimizer'], 2, /optimizer state .* is corrupt/],
  ['--resume with a bad state.json', ['train', 'image', '--resume', '--epochs', '2', '--out', '{f}/run-bad-state'], 2, /state\.json is not a vaekit checkpoint state/],
  ['--resume with latest.json leaving the run', ['train', 'image', '--resume', '--out', '{f}/run-latest-escape'], 2, /does not name a checkpoint folder/],
  // export
  ['export of a missing run', ['export', '{tmp}/none', '{tmp}/b'], 2, /Run folder not found/],
  ['export of a file', ['export', '{f}/a-file', '{tmp}/b'], 2, /Run folder is not a directory/],
  ['export of an empty folder', ['export', '{f}/empty-dir', '{tmp}/b'], 2, /Run configuration not found/],
  ['export with a binary config', ['export', '{f}/run-binary-config', '{tmp}/b'], 2, /Run configuration is not valid JSON: .*config\.json/],
  ['export with a dangling layer reference (tfjs would hang)', ['export', '{f}/run-dangling-layer', '{tmp}/b'], 2, /model\.json is not a valid tfjs layers model: an input of layer .* refers to "nope", which is not a layer/],
  ['--resume with a dangling layer reference', ['train', 'image', '--resume', '--epochs', '2', '--out', '{f}/run-dangling-layer'], 2, /is not a valid tfjs layers model/],
  ['export with truncated weights', ['export', '{f}/run-truncated-weights', '{tmp}/b'], 2, /truncated or corrupt/],
  ['export of an unsupported layer', ['export', '{f}/run-unsupported', '{tmp}/b'], 2, /Cannot export 1 layer to ONNX: PReLU \(layer "odd"\)\. Supported layers: .*Dense/],
  ['export --opset too low', ['export', '{run}', '{tmp}/b', '--opset', '9'], 2, /--opset.*from 13 to 21/],
  ['export --opset absurd', ['export', '{run}', '{tmp}/b', '--opset', '99999'], 2, /--opset.*from 13 to 21/],
  ['export over a file', ['export', '{run}', '{f}/a-file'], 2, /exists and is not a folder/],
  ['export over a folder that is not a bundle', ['export', '{run}', '{f}/not-a-bundle'], 2, /not empty and is not a bundle.*refusing/],
  ['export below a file', ['export', '{run}', '{f}/a-file/b'], 2, /a parent of it is a file/],
  // sample / reconstruct: bundles
  ['sample of a missing bundle', ['sample', '{tmp}/none'], 2, /Bundle folder not found/],
  ['sample of a file', ['sample', '{f}/a-file'], 2, /is not a bundle folder/],
  ['sample of an empty folder', ['sample', '{f}/empty-dir'], 2, /manifest\.json is missing/],
  ['empty manifest', ['sample', '{f}/b-empty-manifest'], 2, /manifest\.json is not valid UTF-8 JSON/],
  ['non-UTF-8 manifest', ['sample', '{f}/b-latin1-manifest'], 2, /manifest\.json is not valid UTF-8 JSON/],
  ['binary manifest', ['sample', '{f}/b-binary-manifest'], 2, /manifest\.json is not valid UTF-8 JSON/],
  ['manifest of another format', ['sample', '{f}/b-not-vaekit'], 2, /format is "something-else", expected "vaekit-bundle"/],
  ['manifest version unknown', ['sample', '{f}/b-version-9'], 2, /formatVersion 9 is not supported\. This runtime reads version 1/],
  ['manifest kind unknown', ['sample', '{f}/b-kind-audio'], 2, /kind "audio" is not supported\. Should be one of/],
  ['manifest without graphs', ['sample', '{f}/b-no-graphs'], 2, /graphs is missing/],
  ['manifest without files', ['sample', '{f}/b-no-files'], 2, /files is missing/],
  ['manifest without latentSize', ['sample', '{f}/b-no-latent'], 2, /latentSize must be a positive integer/],
  ['manifest with a bad sha256', ['sample', '{f}/b-sha-not-hex'], 2, /needs a lower-case hex sha256/],
  ['manifest tensor with a bad dtype', ['sample', '{f}/b-dtype-float64'], 2, /dtype "float64"\. Should be one of: float32, int32, int64/],
  ['manifest tensor with a bad shape', ['sample', '{f}/b-shape-negative'], 2, /dimensions must be integers >= 0 or names/],
  ['file path leaving the bundle', ['sample', '{f}/b-path-escape'], 2, /"\.\.\/encoder\.onnx" is not allowed: paths must be relative and stay inside/],
  ['absolute file path', ['sample', '{f}/b-path-absolute'], 2, /is not allowed: paths must be relative/],
  ['sha256 mismatch names the file', ['sample', '{f}/b-sha-mismatch'], 2, /"decoder\.onnx" does not match manifest\.json: sha256 is [0-9a-f]{64}, expected/],
  ['graph file missing', ['sample', '{f}/b-missing-decoder'], 2, /Bundle file missing: .*decoder\.onnx/],
  ['truncated .onnx (hash updated)', ['sample', '{f}/b-truncated-onnx'], 2, /encoder\.onnx could not be loaded by ONNX Runtime/],
  ['empty .onnx (hash updated)', ['sample', '{f}/b-empty-onnx'], 2, /encoder\.onnx could not be loaded by ONNX Runtime/],
  ['unexpected input name', ['sample', '{f}/b-input-renamed'], 2, /encoder\.onnx does not match manifest\.json: input "pixels" not found \(the graph has x\)/],
  ['unexpected input shape', ['sample', '{f}/b-input-shape'], 2, /encoder\.onnx does not match manifest\.json: input "x" has shape \[batch, 784\] in the graph, \[batch, 1024\] in the manifest/],
  ['unexpected input dtype', ['sample', '{f}/b-input-dtype'], 2, /graphs\.decoder input "z" has dtype int64; image bundles use float32/],
  ['latent size not matching the graphs', ['sample', '{f}/b-latent-mismatch'], 2, /graphs\.encoder output "mu" has size 4, but the latentSize needs 7/],
  ['image size not matching the graphs', ['sample', '{f}/b-image-32'], 2, /graphs\.encoder input "x" has size 784, but the 32x32x1 image needs 1024/],
  ['graphs swapped', ['sample', '{f}/b-swapped'], 2, /does not match manifest\.json: input "(x|z)" not found/],
  // sample / reconstruct: options and outputs
  ['--n 0', ['sample', '{bundle}', '--n', '0'], 2, /--n.*Expected an integer from 1 to 10000/],
  ['--n negative', ['sample', '{bundle}', '--n', '-3'], 2, /--n.*Expected an integer from 1/],
  ['--n absurd', ['sample', '{bundle}', '--n', '1e12'], 2, /--n.*Expected an integer from 1 to 10000/],
  ['--temperature 0', ['sample', '{bundle}', '--temperature', '0'], 2, /--temperature.*Expected a number from 0\.000001 to 100/],
  ['--temperature NaN', ['sample', '{bundle}', '--temperature', 'NaN'], 2, /--temperature.*Expected a number/],
  ['--latent-temperature 0', ['sample', '{bundle}', '--latent-temperature', '0'], 2, /--latent-temperature.*Expected a number from 0\.000001 to 100/],
  ['--latent-temperature and --temperature disagree', ['sample', '{bundle}', '--latent-temperature', '0.5', '--temperature', '0.7'], 2, /disagree; give --latent-temperature only/],
  ['--seed absurd', ['sample', '{bundle}', '--seed', '1e30'], 2, /--seed.*Expected an integer from 0 to 2147483647/],
  ['unknown inference backend', ['sample', '{bundle}', '--backend', 'gl'], 2, /--backend.*Should be one of: cpu/],
  ['--out in a missing folder', ['sample', '{bundle}', '--out', '{tmp}/no/such/s.png'], 2, /folder .* does not exist/],
  ['--out is a folder', ['sample', '{bundle}', '--out', '{f}/empty-dir'], 2, /empty-dir: it is a folder\. Expected a file name/],
  ['reconstruct --n 0', ['reconstruct', '{bundle}', '--n', '0'], 2, /--n.*Expected an integer from 1 to 1000/],
  ['reconstruct --n absurd', ['reconstruct', '{bundle}', '--n', '5000'], 2, /--n.*Expected an integer from 1 to 1000/],
  ['reconstruct of a tampered bundle', ['reconstruct', '{f}/b-sha-mismatch'], 2, /"decoder\.onnx" does not match manifest\.json/],
  ['reconstruct --out is a folder', ['reconstruct', '{bundle}', '--n', '2', '--out', '{f}/empty-dir'], 2, /it is a folder/],
  // inspect
  ['inspect of a missing path', ['inspect', '{tmp}/none.onnx'], 2, /Not found: .*none\.onnx \(expected an \.onnx file or a bundle folder\)/],
  ['inspect of an empty file', ['inspect', '{f}/empty.onnx'], 2, /Not an ONNX model: the file is empty/],
  ['inspect of random bytes', ['inspect', '{f}/binary.onnx'], 2, /not a valid ONNX model|Not a valid ONNX model/i],
  ['inspect of a text file', ['inspect', '{f}/text.onnx'], 2, /not a valid ONNX model|Not a valid ONNX model/i],
  ['inspect of a truncated .onnx', ['inspect', '{f}/truncated.onnx'], 2, /truncated or corrupt|not a valid ONNX model/i],
  ['inspect of an empty folder', ['inspect', '{f}/empty-dir'], 2, /is not a vaekit bundle: manifest\.json is missing/],
  ['inspect of a binary manifest', ['inspect', '{f}/b-binary-manifest'], 2, /manifest\.json is not valid/],
  ['inspect of an unknown version', ['inspect', '{f}/b-version-9'], 2, /formatVersion 9 is not supported/],
  ['inspect of a path leaving the bundle', ['inspect', '{f}/b-path-escape'], 2, /is not allowed: paths must be relative/],
  ['inspect of a bundle with a missing graph', ['inspect', '{f}/b-missing-decoder'], 2, /decoder\.onnx.*not found/],
  // train text: data
  ['text: --data missing', ['train', 'text', '--data', '{tmp}/none.txt', '--out', '{tmp}/r'], 2, /Text file not found: .*none\.txt\. --data expects a UTF-8 text file with one sentence per line \(or "sotu"\)/],
  ['text: --data is a folder', ['train', 'text', '--data', '{f}/empty-dir', '--out', '{tmp}/r'], 2, /empty-dir is a folder; --data expects a UTF-8 text file/],
  ['text: --data empty', ['train', 'text', '--data', '{f}/empty.txt', '--out', '{tmp}/r'], 2, /empty\.txt has no sentences \(every line is blank\)/],
  ['text: --data blank lines only', ['train', 'text', '--data', '{f}/blank.txt', '--out', '{tmp}/r'], 2, /blank\.txt has no sentences/],
  ['text: --data not UTF-8', ['train', 'text', '--data', '{f}/latin1.txt', '--out', '{tmp}/r'], 2, /latin1\.txt is not UTF-8 text \(binary file\?\)/],
  ['text: --data with NUL bytes', ['train', 'text', '--data', '{f}/nul.txt', '--out', '{tmp}/r'], 2, /nul\.txt contains NUL bytes/],
  ['text: --data binary', ['train', 'text', '--data', '{f}/binary.onnx', '--out', '{tmp}/r'], 2, /binary\.onnx (is not UTF-8 text|contains NUL bytes)/],
  ['text: only extremely long lines (empty after filtering)', ['train', 'text', '--data', '{f}/long.txt', '--out', '{tmp}/r'], 2, /The corpus has 0 usable sentences \(of 20; 0 empty, 20 longer than 30 words dropped\): too few/],
  ['text: too few sentences', ['train', 'text', '--data', '{f}/one.txt', '--out', '{tmp}/r'], 2, /The corpus has 1 usable sentences .*too few to split/],
  // train text: options
  ['text: unknown model', ['train', 'text', '--model', 'gan', '--out', '{tmp}/r'], 2, /--model.*Should be one of: vae, lm/],
  // train text: pretrained parts; distill
  ['text: unknown word vectors', ['train', 'text', '--embeddings', 'word2vec', '--out', '{tmp}/r'], 2, /--embeddings.*Should be one of: glove/],
  ['text: --freeze-embeddings alone', ['train', 'text', '--freeze-embeddings', '--out', '{tmp}/r'], 2, /--freeze-embeddings keeps pretrained embeddings fixed: use it with --embeddings, --init or --init-decoder/],
  ['text: --pretrain-epochs without --pretrain', ['train', 'text', '--pretrain-epochs', '2', '--out', '{tmp}/r'], 2, /--pretrain-epochs needs --pretrain ae/],
  ['text: --pretrain with the LM', ['train', 'text', '--pretrain', 'ae', '--model', 'lm', '--out', '{tmp}/r'], 2, /--pretrain ae trains an autoencoder first: it needs --model vae/],
  ['text: --init from a missing folder', ['train', 'text', '--init', '{tmp}/none', '--out', '{tmp}/r'], 2, /--init .*none: no run folder there/],
  ['text: --init-decoder from a bundle', ['train', 'text', '--init-decoder', '{bundle}', '--out', '{tmp}/r'], 2, /--init-decoder .* is a bundle \(made by vaekit export\)/],
  ['distill without --hidden', ['distill', '{run}', '--out', '{tmp}/s'], 2, /required option '--hidden <h>'/],
  ['distill of a missing teacher', ['distill', '{tmp}/none', '--hidden', '8', '--out', '{tmp}/s'], 2, /vaekit distill .*none: no run folder there/],
  ['distill of an image run', ['distill', '{run}', '--hidden', '8', '--out', '{tmp}/s'], 2, /is an image run; vaekit distill takes a sentence VAE run/],
  ['distill with a zero temperature', ['distill', '{run}', '--hidden', '8', '--temperature', '0', '--out', '{tmp}/s'], 2, /--temperature/],
  ['text: unknown cell', ['train', 'text', '--cell', 'transformer', '--out', '{tmp}/r'], 2, /--cell.*Should be one of: gru, lstm/],
  ['text: unknown annealing', ['train', 'text', '--anneal', 'sometimes', '--out', '{tmp}/r'], 2, /--anneal.*Should be one of: /],
  ['text: bad aggressive mode', ['train', 'text', '--aggressive', 'sometimes', '--out', '{tmp}/r'], 2, /Should be auto, off, or a number of epochs/],
  ['text: --word-dropout 1', ['train', 'text', '--word-dropout', '1', '--out', '{tmp}/r'], 2, /--word-dropout.*from 0 to 0\.99/],
  ['text: --max-vocab too small', ['train', 'text', '--max-vocab', '4', '--out', '{tmp}/r'], 2, /--max-vocab.*from 5 to 1000000/],
  ['text: --max-length 0', ['train', 'text', '--max-length', '0', '--out', '{tmp}/r'], 2, /--max-length.*from 1 to 1000/],
  ['text: --latent absurd', ['train', 'text', '--latent', '1e9', '--out', '{tmp}/r'], 2, /--latent.*from 1 to 4096/],
  ['text: --out is a file', ['train', 'text', '--data', '{f}/corpus.txt', '--out', '{f}/a-file'], 2, /--out .*a-file exists and is not a folder/],
  ['text: --resume of an image run', ['train', 'text', '--resume', '--out', '{run}'], 2, /is an image run; resume it with `vaekit train image --resume`/],
  ['image: --resume of a text run', ['train', 'image', '--resume', '--out', '{f}/text-run'], 2, /is a text run; resume it with `vaekit train text --resume`/],
  // eval
  ['eval of a missing run', ['eval', '{tmp}/none'], 2, /Run folder not found/],
  ['eval of an image run with a text option', ['eval', '{run}', '--k', '5'], 2, /--k applies to text runs; .* is an image run/],
  ['eval of an empty folder', ['eval', '{f}/empty-dir'], 2, /Run configuration not found/],
  ['eval --baseline missing', ['eval', '{f}/text-run', '--baseline', '{tmp}/none'], 2, /Tokenizer not found: .*none.*is .* a text run folder/],
  ['eval --baseline an image run', ['eval', '{f}/text-run', '--baseline', '{run}'], 2, /Tokenizer not found/],
  ['eval --data not UTF-8', ['eval', '{f}/text-run', '--data', '{f}/latin1.txt'], 2, /is not UTF-8 text/],
  ['eval --k negative', ['eval', '{f}/text-run', '--k', '-1'], 2, /--k.*from 0 to 100000/],
  // train image --data: your own images
  ['image: --data missing', ['train', 'image', '--data', '{tmp}/none', '--out', '{tmp}/r'], 2, /--data .*none: folder not found\. Expected mnist or a folder of \.png\/\.jpg images/],
  ['image: --data is a file', ['train', 'image', '--data', '{f}/a-file', '--out', '{tmp}/r'], 2, /--data .*a-file is not a folder\. Expected mnist or a folder/],
  ['image: --data without images', ['train', 'image', '--data', '{f}/empty-dir', '--out', '{tmp}/r'], 2, /No images in .*empty-dir\. Expected \.png\/\.jpg\/\.jpeg files/],
  ['image: --data with an undecodable PNG', ['train', 'image', '--data', '{f}/images-bad', '--out', '{tmp}/r'], 2, /Cannot decode .*images-bad\/x\.png/],
  ['image: --data with a file that is no image', ['train', 'image', '--data', '{f}/images-text', '--out', '{tmp}/r'], 2, /Cannot decode .*readme\.jpg: it is neither a PNG nor a JPEG file/],
  ['image: --data mixing images and class folders', ['train', 'image', '--data', '{f}/images-mixed', '--out', '{tmp}/r'], 2, /mixes images \(a\.png\) with class subfolders \(cats\/\)/],
  ['image: --data with one image', ['train', 'image', '--data', '{f}/images-one', '--out', '{tmp}/r'], 2, /has 1 image; at least 2 are needed/],
  ['image: --channels 2', ['train', 'image', '--data', '{f}/images-ok', '--channels', '2', '--out', '{tmp}/r'], 2, /--channels.*Should be one of: 1, 3/],
  ['image: --size 0', ['train', 'image', '--data', '{f}/images-ok', '--size', '0', '--out', '{tmp}/r'], 2, /--size.*Expected an integer from 1 to 1024/],
  ['image: --size with the MNIST digits', ['train', 'image', '--size', '32', '--out', '{tmp}/r'], 2, /--size and --channels apply to --data DIR; the built-in MNIST digits are 28x28 grey/],
  ['image: conv with a size not divisible by 4', ['train', 'image', '--data', '{f}/images-ok', '--arch', 'conv', '--size', '10', '--out', '{tmp}/r'], 2, /conv architecture needs an image size divisible by 4, got 10x10/],
  // inference engine, wrong kinds
  ['unknown inference device', ['sample', '{bundle}', '--device', 'gl'], 2, /--device.*Should be one of: cpu, wasm/],
  ['--device and the old --backend disagree', ['sample', '{bundle}', '--device', 'cpu', '--backend', 'wasm'], 2, /--device cpu and --backend wasm disagree; give --device only/],
  ['generate on an image bundle', ['generate', '{bundle}'], 2, /is an image bundle; this command generates text\. Use: vaekit sample/],
  ['encode on an image bundle', ['encode', '{bundle}', 'a sentence'], 2, /is an image bundle; .*Use: vaekit sample/],
  ['generate --stream with beam search', ['generate', '{bundle}', '--stream', '--strategy', 'beam'], 2, /--stream works with --strategy greedy or sample/],
  ['eval of a bundle', ['eval', '{bundle}'], 2, /is a bundle \(made by vaekit export\); vaekit eval takes a run folder \(made by vaekit train text/],
  ['eval --baseline a bundle', ['eval', '{f}/text-run', '--baseline', '{bundle}'], 2, /--baseline .* is a bundle/],
  // demo
  ['demo --out is a file', ['demo', '--out', '{f}/a-file'], 2, /--out .*a-file exists and is not a folder/],
  ['demo --epochs 0', ['demo', '--epochs', '0', '--out', '{tmp}/d'], 2, /--epochs.*Expected an integer from 1/],
  ['demo unknown backend', ['demo', '--backend', 'tpu', '--out', '{tmp}/d'], 2, /Should be one of: auto, node, wasm, cpu/],
];

/** The error classes API rows may expect: each package's own. */
type ErrorClass = abstract new (...args: never[]) => Error;

/** One API case: `call` must throw (or reject with) `error` whose message matches and whose userError is true. */
type ApiRow = [name: string, call: (fx: Fixtures) => unknown, error: ErrorClass, message: RegExp];

const vec = (n: number, v = 0) => new Float32Array(n).fill(v);
const manifestOf = (fx: Fixtures) => JSON.parse(JSON.stringify(fx.vae.manifest)) as Record<string, unknown>;

const API_ROWS: ApiRow[] = [
  // runtime: loading
  ['loadVae of a missing folder', () => loadVae('/no/such/bundle'), BundleError, /Bundle folder not found: \/no\/such\/bundle/],
  ['loadVae of a file', (fx) => loadVae(path.join(fx.f, 'a-file')), BundleError, /is not a bundle folder/],
  ['loadVae of a tampered bundle', (fx) => loadVae(path.join(fx.f, 'b-sha-mismatch')), BundleError, /"decoder\.onnx" does not match manifest\.json/],
  ['loadVae of a manifest with a bad shape', (fx) => loadVae(path.join(fx.f, 'b-input-shape')), BundleError, /input "x" has shape/],
  ['loadVae with an unknown backend', (fx) => loadVae(fx.bundle, { backend: 'gl' as never }), InputError, /Unsupported backend "gl"\. Should be one of: cpu/],
  // runtime: inputs
  ['encode of no images', (fx) => fx.vae.encode([]), InputError, /expected a non-empty array of Float32Array/],
  ['encode of a wrong image size', (fx) => fx.vae.encode([vec(1024)]), InputError, /images\[0\] must be a Float32Array of length 784, got length 1024/],
  ['encode of a plain array', (fx) => fx.vae.encode([Array(784).fill(0) as never]), InputError, /must be a Float32Array of length 784, got object/],
  ['encode of NaN pixels', (fx) => fx.vae.encode([vec(784, Number.NaN)]), InputError, /contains NaN at index 0; only finite numbers/],
  ['decode of NaN in a latent vector', (fx) => fx.vae.decode([vec(4, Number.NaN)]), InputError, /z\[0\] contains NaN/],
  ['decode of Infinity in a latent vector', (fx) => fx.vae.decode([vec(4), vec(4, Infinity)]), InputError, /z\[1\] contains Infinity/],
  ['decode of -Infinity in a latent vector', (fx) => fx.vae.decodeLogits([vec(4, -Infinity)]), InputError, /contains -Infinity/],
  ['decode of a wrong latent size', (fx) => fx.vae.decode([vec(5)]), InputError, /length 4, got length 5/],
  ['sample n = 0', (fx) => fx.vae.sample(0), InputError, /n must be a positive integer/],
  ['sample n negative', (fx) => fx.vae.sample(-2), InputError, /n must be a positive integer/],
  ['sample n fractional', (fx) => fx.vae.sample(1.5), InputError, /n must be a positive integer/],
  ['sample n absurd', (fx) => fx.vae.sample(1e12), InputError, /at most 100000/],
  ['sample temperature 0', (fx) => fx.vae.sample(1, { temperature: 0 }), InputError, /temperature must be a positive number/],
  ['sample temperature NaN', (fx) => fx.vae.sample(1, { temperature: Number.NaN }), InputError, /temperature must be a positive number/],
  ['sample temperature Infinity', (fx) => fx.vae.sample(1, { temperature: Infinity }), InputError, /temperature must be a positive number/],
  ['interpolate with 1 step', (fx) => fx.vae.interpolate(vec(784), vec(784), { steps: 1 }), InputError, /steps must be an integer from 2 to 10000/],
  ['interpolate with absurd steps', (fx) => fx.vae.interpolate(vec(784), vec(784), { steps: 1e9 }), InputError, /steps must be an integer from 2 to 10000/],
  ['interpolate with an unknown method', (fx) => fx.vae.interpolate(vec(784), vec(784), { method: 'cubic' as never }), InputError, /"cubic"\. Should be one of: linear, slerp/],
  ['interpolateLatent of different sizes', () => interpolateLatent(vec(3), vec(4), 5), InputError, /lengths 3 and 4/],
  // runtime: manifest and integrity helpers
  ['parseManifest of null', () => parseManifest(null), BundleError, /must contain a JSON object/],
  ['parseManifest of an array', () => parseManifest([]), BundleError, /must contain a JSON object/],
  ['parseManifest of an unknown version', (fx) => parseManifest({ ...manifestOf(fx), formatVersion: 2 }), BundleError, /formatVersion 2 is not supported/],
  ['parseManifest without image', (fx) => parseManifest({ ...manifestOf(fx), image: undefined }), BundleError, /image must give positive integer height, width and channels/],
  ['parseManifest with a graph without file', (fx) => parseManifest({ ...manifestOf(fx), graphs: { encoder: {}, decoder: {} } }), BundleError, /graphs\.encoder must name its file/],
  ['parseManifest with an unhashed graph', (fx) => parseManifest({ ...manifestOf(fx), files: {} }), BundleError, /has no entry in files \(no sha256 to verify\)/],
  ['parseManifest with an unsafe files key', (fx) => parseManifest({ ...manifestOf(fx), files: { '../x': { sha256: '0'.repeat(64), bytes: 1 } } }), BundleError, /"\.\.\/x" is not allowed/],
  ['unsafe path ..', () => assertSafeBundlePath('a/../../etc/passwd'), BundleError, /is not allowed/],
  ['unsafe path with a backslash', () => assertSafeBundlePath('..\\evil.onnx'), BundleError, /is not allowed/],
  ['unsafe path with a drive letter', () => assertSafeBundlePath('C:/evil.onnx'), BundleError, /is not allowed/],
  ['unsafe empty path', () => assertSafeBundlePath(''), BundleError, /is not allowed/],
  ['verifyFile of changed bytes', (fx) => verifyFile(fx.vae.manifest, 'encoder.onnx', new Uint8Array([1, 2, 3])), BundleError, /"encoder\.onnx" does not match manifest\.json: sha256 is/],
  ['verifyFile of an unlisted file', (fx) => verifyFile(fx.vae.manifest, 'extra.onnx', new Uint8Array(1)), BundleError, /"extra\.onnx" is not listed in manifest\.json/],
  // runtime: tokenizer files
  ['tokenizer of an empty file', () => WordTokenizer.fromJSON(''), TokenizerError, /tokenizer\.json is not valid JSON/],
  ['tokenizer of binary bytes', () => WordTokenizer.fromJSON('\u0000\u00ff\ufffd'), TokenizerError, /tokenizer\.json is not valid JSON/],
  ['tokenizer without a model', () => WordTokenizer.fromJSON('{}'), TokenizerError, /has no "model" object/],
  ['tokenizer of another model type', () => WordTokenizer.fromJSON('{"model":{"type":"BPE"}}'), TokenizerError, /model type "BPE"; only "WordLevel" is supported/],
  // exporter
  ['decodeModel of no bytes', () => decodeModel(new Uint8Array(0)), OnnxFormatError, /the file is empty/],
  ['decodeModel of random bytes', () => decodeModel(Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) % 256)), OnnxFormatError, /ONNX/],
  ['convert an unsupported layer', () => convertLayersModel(unsupportedModel()), UnsupportedLayerError, /PReLU \(layer "odd"\)\. Supported layers: /],
  ['convert to an unknown opset', () => convertLayersModel(tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] }), { opset: 12 }), ExportError, /Unsupported ONNX opset 12\. Should be an integer from 13 to 21/],
  ['exportRunBundle of a missing run', (fx) => exportRunBundle('/no/such/run', path.join(fx.tmp(), 'b')), ExportError, /Run folder not found/],
  ['exportBundle over a file', (fx) => exportBundle(tinyImageSource(), path.join(fx.f, 'a-file')), ExportError, /exists and is not a folder/],
  ['exportBundle over a non-bundle folder', (fx) => exportBundle(tinyImageSource(), path.join(fx.f, 'not-a-bundle')), ExportError, /refusing to replace it/],
  ['exportBundle of a kind without an export plan', (fx) => exportBundle({ kind: 'audio' }, path.join(fx.tmp(), 'b')), ExportError, /Bundle kind "audio" has no export plan\. Should be one of: image, text/],
  // trainer
  ['validate latent 0', () => validateImageConfig(defaultImageConfig({ latent: 0 })), TrainerError, /latent must be a positive integer/],
  ['validate hidden negative', () => validateImageConfig(defaultImageConfig({ hidden: [16, -1] })), TrainerError, /hidden\[1\] must be a positive integer/],
  ['validate beta NaN', () => validateImageConfig(defaultImageConfig({ beta: Number.NaN })), TrainerError, /beta must be >= 0/],
  ['validate learning rate Infinity', () => validateImageConfig(defaultImageConfig({ learningRate: Infinity })), TrainerError, /learningRate must be > 0/],
  ['validate epochs absurd', () => validateImageConfig(defaultImageConfig({ epochs: 1e9 })), TrainerError, /epochs must be a positive integer \(at most 1000000\)/],
  ['train with an unknown architecture', (fx) => trainImageVae({ ...defaultImageConfig(), arch: 'rnn' as never }, fx.tmp()), TrainerError, /Should be one of: dense, conv/],
  ['train with an unknown non-finite policy', (fx) => trainImageVae(defaultImageConfig({ epochs: 1, trainLimit: 8, hidden: [4], latent: 2 }), fx.tmp(), {}, { nonFinite: 'ignore' as never }), TrainerError, /"ignore"\. Should be one of: stop, skip/],
  ['unknown training backend', () => parseBackendChoice('gpu'), TrainerError, /Unsupported backend "gpu"\. Should be one of: auto, node, wasm, cpu/],
  ['loadCheckpoint of a missing run', () => loadCheckpoint('/no/such/run'), CheckpointError, /Run folder not found/],
  ['loadCheckpoint with truncated weights', (fx) => loadCheckpoint(path.join(fx.f, 'run-truncated-weights')), CheckpointError, /hold \d+ bytes, the model needs \d+: the file is truncated or corrupt/],
  ['loadCheckpoint with corrupt optimizer state', (fx) => loadCheckpoint(path.join(fx.f, 'run-bad-optimizer')), CheckpointError, /optimizer\.bin holds \d+ bytes|shorter than/],
  ['resume of a run without checkpoint', (fx) => resumeImageVae(path.join(fx.f, 'run-no-latest')), CheckpointError, /latest\.json/],
];

/** The fixtures of every row: a real trained run and bundle, and broken copies of them. */
interface Fixtures {
  f: string;
  run: string;
  bundle: string;
  vae: ImageVae;
  /** A fresh empty folder. */
  tmp(): string;
}

/** A decoder with a layer the exporter has no handler for (PReLU). */
function unsupportedModel(latent = 4): tf.LayersModel {
  const z = tf.input({ shape: [latent], name: 'z' });
  const h = tf.layers.dense({ units: 784, name: 'dense' }).apply(z) as tf.SymbolicTensor;
  const out = tf.layers.prelu({ name: 'odd' }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: z, outputs: out, name: 'decoder' });
}

/** A small untrained image VAE in memory (784 -> 4 -> 784), as the exporter takes it. */
function tinyImageSource(): ImageBundleSource {
  const x = tf.input({ shape: [784], name: 'x' });
  const mu = tf.layers.dense({ units: 4, name: 'mu' }).apply(x) as tf.SymbolicTensor;
  const logvar = tf.layers.dense({ units: 4, name: 'logvar' }).apply(x) as tf.SymbolicTensor;
  const z = tf.input({ shape: [4], name: 'z' });
  const logits = tf.layers.dense({ units: 784, name: 'logits' }).apply(z) as tf.SymbolicTensor;
  return {
    kind: 'image',
    encoder: tf.model({ inputs: x, outputs: [mu, logvar] }),
    decoder: tf.model({ inputs: z, outputs: logits }),
    image: { height: 28, width: 28, channels: 1 },
  };
}

async function makeFixtures(): Promise<Fixtures> {
  await tf.setBackend('cpu');
  const base = tempDir('vaekit-bad-input-');
  const f = path.join(base, 'f');
  await fs.mkdir(f);
  const run = path.join(base, 'run');
  const bundle = path.join(base, 'bundle');
  vaekitOk(['train', 'image', '--epochs', '1', '--limit', '64', '--hidden', '16', '--latent', '4', '--batch-size', '32', '--out', run]);
  vaekitOk(['export', run, bundle]);

  const write = (rel: string, data: string | Uint8Array) => fs.writeFile(path.join(f, rel), data);
  await write('a-file', 'just a file\n');
  await fs.mkdir(path.join(f, 'empty-dir'));
  await fs.mkdir(path.join(f, 'not-a-bundle'));
  await write('not-a-bundle/notes.txt', 'precious\n');
  await write('empty.onnx', new Uint8Array(0));
  await write('binary.onnx', Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24));
  await write('text.onnx', 'This is a README, not a model.\n'.repeat(20));
  const encoderBytes = await fs.readFile(path.join(bundle, 'encoder.onnx'));
  await write('truncated.onnx', encoderBytes.subarray(0, Math.floor(encoderBytes.length / 3)));

  // Text corpora: good, and every way a text file can be bad.
  const rng = createRng(11);
  const words = 'the cat dog sat ran on a mat hat big small red blue and saw it'.split(' ');
  await write('corpus.txt', Array.from({ length: 400 }, () => Array.from({ length: 3 + rng.int(6) }, () => words[rng.int(words.length)]).join(' ')).join('\n') + '\n');
  await write('one.txt', 'the cat sat on the mat\n');
  await write('long.txt', Array.from({ length: 20 }, () => 'word '.repeat(5000)).join('\n') + '\n');
  await write('latin1.txt', Buffer.from('caf\u00e9 au lait\n', 'latin1'));
  await write('nul.txt', 'hello\u0000world\n');
  await write('blank.txt', '\n  \n\t\n');
  await write('empty.txt', '');
  // Image folders for train image --data: good, and the ways a folder can be bad.
  const { PNG } = await import('pngjs');
  const png = (v: number) => {
    const p = new PNG({ width: 6, height: 6 });
    p.data.fill(v);
    return PNG.sync.write(p);
  };
  for (const dir of ['images-ok', 'images-bad', 'images-text', 'images-mixed/cats', 'images-one']) await fs.mkdir(path.join(f, dir), { recursive: true });
  for (let i = 0; i < 4; i++) await write(`images-ok/${i}.png`, png(40 * i + 20));
  await write('images-bad/a.png', png(100));
  await write('images-bad/x.png', Buffer.concat([png(100).subarray(0, 40), Buffer.from('garbage')]));
  await write('images-text/a.png', png(100));
  await write('images-text/readme.jpg', 'not an image\n');
  await write('images-mixed/a.png', png(100));
  await write('images-mixed/cats/b.png', png(200));
  await write('images-one/a.png', png(100));

  vaekitOk(['train', 'text', '--data', path.join(f, 'corpus.txt'), '--epochs', '1', '--latent', '4', '--embedding', '8', '--hidden', '8', '--batch-size', '32', '--k', '2', '--eval-limit', '20', '--out', path.join(f, 'text-run')]);

  // Broken bundles: a copy of the good one, then a change to the manifest or files.
  const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8'));
  const variant = async (name: string, change: (m: any, dir: string) => Promise<void | string | Uint8Array> | void | string | Uint8Array) => {
    const dir = path.join(f, name);
    await fs.cp(bundle, dir, { recursive: true });
    const m = JSON.parse(JSON.stringify(manifest));
    const out = await change(m, dir);
    await fs.writeFile(path.join(dir, 'manifest.json'), out ?? JSON.stringify(m, null, 2));
  };
  const rehash = async (m: any, dir: string, file: string, bytes: Uint8Array) => {
    await fs.writeFile(path.join(dir, file), bytes);
    m.files[file] = { sha256: await sha256Hex(bytes), bytes: bytes.length };
  };
  await variant('b-empty-manifest', () => '');
  await variant('b-latin1-manifest', () => Buffer.from(JSON.stringify({ ...manifest, producer: { name: 'caf\u00e9', version: '1' } }), 'latin1'));
  await variant('b-binary-manifest', () => Uint8Array.from({ length: 256 }, (_, i) => (i * 7 + 3) % 256));
  await variant('b-not-vaekit', (m) => void (m.format = 'something-else'));
  await variant('b-version-9', (m) => void (m.formatVersion = 9));
  await variant('b-kind-audio', (m) => void (m.kind = 'audio'));
  await variant('b-no-graphs', (m) => void delete m.graphs);
  await variant('b-no-files', (m) => void delete m.files);
  await variant('b-no-latent', (m) => void delete m.latentSize);
  await variant('b-sha-not-hex', (m) => void (m.files['encoder.onnx'].sha256 = 'XYZ'));
  await variant('b-dtype-float64', (m) => void (m.graphs.encoder.inputs[0].dtype = 'float64'));
  await variant('b-shape-negative', (m) => void (m.graphs.decoder.outputs[0].shape = ['batch', -784]));
  await variant('b-path-escape', (m) => {
    m.graphs.encoder.file = '../encoder.onnx';
    m.files['../encoder.onnx'] = m.files['encoder.onnx'];
  });
  await variant('b-path-absolute', (m) => void (m.graphs.encoder.file = '/etc/passwd'));
  await variant('b-sha-mismatch', async (_m, dir) => {
    const bytes = await fs.readFile(path.join(dir, 'decoder.onnx'));
    bytes[bytes.length - 5]! ^= 0xff;
    await fs.writeFile(path.join(dir, 'decoder.onnx'), bytes);
  });
  await variant('b-missing-decoder', (_m, dir) => fs.rm(path.join(dir, 'decoder.onnx')));
  await variant('b-truncated-onnx', (m, dir) => rehash(m, dir, 'encoder.onnx', encoderBytes.subarray(0, 1000)));
  await variant('b-empty-onnx', (m, dir) => rehash(m, dir, 'encoder.onnx', new Uint8Array(0)));
  await variant('b-input-renamed', (m) => void (m.graphs.encoder.inputs[0].name = 'pixels'));
  await variant('b-input-shape', (m) => {
    m.image = { ...m.image, height: 32, width: 32 };
    m.graphs.encoder.inputs[0].shape = ['batch', 1024];
    m.graphs.decoder.outputs[0].shape = ['batch', 1024];
  });
  await variant('b-input-dtype', (m) => void (m.graphs.decoder.inputs[0].dtype = 'int64'));
  await variant('b-latent-mismatch', (m) => void (m.latentSize = 7));
  await variant('b-image-32', (m) => void (m.image = { ...m.image, height: 32, width: 32 }));
  await variant('b-swapped', (m) => {
    [m.graphs.encoder.file, m.graphs.decoder.file] = [m.graphs.decoder.file, m.graphs.encoder.file];
  });

  // Broken run folders: copies of the trained run.
  const runVariant = async (name: string, change: (dir: string, ckpt: string) => Promise<unknown>) => {
    const dir = path.join(f, name);
    await fs.cp(run, dir, { recursive: true });
    const latest = JSON.parse(await fs.readFile(path.join(dir, 'latest.json'), 'utf8'));
    await change(dir, path.join(dir, latest.checkpoint));
  };
  await runVariant('run-no-latest', (dir) => fs.rm(path.join(dir, 'latest.json')));
  await runVariant('run-binary-config', (dir) => fs.writeFile(path.join(dir, 'config.json'), Uint8Array.from([0xff, 0xfe, 0, 1, 2, 0x80])));
  await runVariant('run-wrong-kind', (dir) => fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ kind: 'audio', latent: 4 })));
  const editConfig = (change: (c: any) => void) => async (dir: string) => {
    const c = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
    change(c);
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify(c));
  };
  await runVariant('run-config-no-hidden', editConfig((c) => delete c.hidden));
  await runVariant('run-config-negative-latent', editConfig((c) => (c.latent = -3)));
  await runVariant('run-truncated-weights', async (_dir, ckpt) => {
    const file = path.join(ckpt, 'encoder', 'weights.bin');
    await fs.truncate(file, 100);
  });
  await runVariant('run-dangling-layer', async (_dir, ckpt) => {
    const file = path.join(ckpt, 'encoder', 'model.json');
    const m = JSON.parse(await fs.readFile(file, 'utf8'));
    m.modelTopology.config.layers[1].inbound_nodes[0][0][0] = 'nope';
    await fs.writeFile(file, JSON.stringify(m));
  });
  await runVariant('run-bad-optimizer', (_dir, ckpt) => fs.truncate(path.join(ckpt, 'optimizer.bin'), 64));
  await runVariant('run-bad-state', (_dir, ckpt) => fs.writeFile(path.join(ckpt, 'state.json'), '{"epoch": "one"}'));
  await runVariant('run-latest-escape', (dir) => fs.writeFile(path.join(dir, 'latest.json'), '{"checkpoint": "../../etc", "epoch": 1}'));
  await runVariant('run-unsupported', async (dir) => {
    const config = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
    const { encoder } = buildImageVae(config);
    await fs.rm(path.join(dir, 'checkpoints'), { recursive: true });
    await writeConfig(dir, config);
    await saveCheckpoint(dir, { encoder, decoder: unsupportedModel(config.latent), state: { epoch: 1, step: 2 } });
  });

  const vae = await loadVae(bundle);
  return { f, run, bundle, vae, tmp: () => tempDir('vaekit-bad-row-') };
}

/** Every path under `dir` with its size, to check that a failed command changed nothing. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      out.push(`${path.relative(dir, p)} ${s.isDirectory() ? 'dir' : s.size}`);
    }
  };
  walk(dir);
  return out;
}

let fx: Fixtures;
before(async () => {
  fx = await makeFixtures();
});

describe('CLI: bad input gives one clear line, the right exit code, and no output', () => {
  for (const [name, args, code, message] of CLI_ROWS) {
    test(name, () => {
      const tmp = fx.tmp();
      const fill = (a: string) => a.replaceAll('{run}', fx.run).replaceAll('{bundle}', fx.bundle).replaceAll('{f}', fx.f).replaceAll('{tmp}', tmp);
      const before = listing(path.dirname(fx.f));
      const r = spawnSync(process.execPath, [path.join(ROOT, 'packages/cli/dist/main.js'), ...args.map(fill)], { cwd: tmp, encoding: 'utf8', timeout: 120_000 });
      const shown = `vaekit ${args.join(' ')}\nexit ${r.status}\nstderr: ${r.stderr}\nstdout: ${r.stdout}`;
      assert.equal(r.status, code, shown);
      assert.match(r.stderr, message, shown);
      assert.doesNotMatch(r.stderr, /\n\s+at .*:\d+:\d+/, `no stack trace\n${shown}`);
      const errorLines = r.stderr.split('\n').filter((l) => /^(vaekit|error):/.test(l));
      assert.ok(errorLines.length <= 1, `one error line\n${shown}`);
      if (errorLines.length === 1 && errorLines[0]!.startsWith('vaekit:')) {
        assert.ok(!/\(run with --verbose/.test(errorLines[0]!) || code === 1, `user errors do not ask for --verbose\n${shown}`);
      }
      assert.deepEqual(readdirSync(tmp), [], `nothing written into the working folder\n${shown}`);
      assert.deepEqual(listing(path.dirname(fx.f)), before, `fixtures, run and bundle unchanged\n${shown}`);
    });
  }
});

describe('public APIs: bad input throws the package\'s own error, marked as a user error', () => {
  for (const [name, call, error, message] of API_ROWS) {
    test(name, async () => {
      await assert.rejects(
        async () => call(fx),
        (err: Error & { userError?: boolean }) => {
          assert.ok(err instanceof error, `expected ${error.name}, got ${err?.name}: ${err?.message}`);
          assert.match(err.message, message);
          assert.equal(err.userError, true, 'userError');
          assert.doesNotMatch(err.message, /\n/, 'one line');
          return true;
        },
      );
    });
  }
});

test('a manifest with extra fields it does not know is accepted (forward compatible within a version)', async () => {
  const dir = path.join(fx.tmp(), 'b');
  await fs.cp(fx.bundle, dir, { recursive: true });
  const m = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
  m.futureField = { anything: [1, 2, 3] };
  m.graphs.encoder.futureField = true;
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(m));
  const vae = await loadVae(dir);
  assert.equal((await vae.sample(2, { seed: 1 })).images.length, 2);
  await vae.dispose();
});

test('--verbose adds the stack trace to a user error', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'packages/cli/dist/main.js'), '--verbose', 'sample', path.join(fx.f, 'b-version-9')], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /BundleError: manifest\.json: formatVersion 9/);
  assert.match(r.stderr, /\n\s+at .*:\d+:\d+/);
});
