import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@vaekit/trainer';
import { defaultTextConfig } from '/work/main/packages/trainer/dist/config.js';
import { buildTextVae } from '/work/main/packages/trainer/dist/models/text.js';
import { tokenCrossEntropy, gaussianKlPerDim, freeBitsKl, reparameterize } from '/work/main/packages/trainer/dist/losses.js';
await initBackend('auto');
const [V,E,H,Z,B,T] = [2000,64,128,16,32,31];
const cfg = defaultTextConfig({embedding:E, hidden:H, latent:Z});
const {encoder, decoder} = buildTextVae(cfg, {vocabSize:V, seqLength:T});
const opt = tf.train.adam(1e-3);
const ids = tf.randomUniform([B,T],4,V,'int32'); const mask = tf.ones([B,T]);
const step = () => opt.minimize(()=>{
    const [mu,lv]=encoder.apply(ids,{training:true});
    const z = reparameterize(mu,lv,tf.randomNormal([B,Z]));
    const logits=decoder.apply([ids,z],{training:true});
    return tokenCrossEntropy(logits,ids,mask).mean().add(freeBitsKl(gaussianKlPerDim(mu,lv),0));
  },true);
(await step().data());
const p = await tf.profile(async () => { const l = step(); await l.data(); l.dispose(); });
const agg = new Map();
for (const k of p.kernels) { const t = await k.kernelTimeMs; const a = agg.get(k.name) ?? {n:0,ms:0}; a.n++; a.ms += (typeof t==='number'?t:0); agg.set(k.name,a);}
console.log('kernels', p.kernels.length);
console.log([...agg].sort((a,b)=>b[1].ms-a[1].ms).slice(0,15).map(([k,v])=>`${k} n=${v.n} ms=${v.ms.toFixed(0)}`).join('\n'));
