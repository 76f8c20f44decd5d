import { defaultTextConfig, loadTextCorpus } from '@vaekit/trainer';
const t0=performance.now();
for (const maxVocab of [10000, 5000]) {
const c = await loadTextCorpus(defaultTextConfig({ data: { maxVocab } }));
console.log(JSON.stringify(c.stats), ((performance.now()-t0)/1000).toFixed(1)+'s');
const lens = c.train.ids.map(r=>r.length); console.log('mean len', lens.reduce((a,b)=>a+b)/lens.length);
console.log(c.train.text.slice(0,3));
}
