import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@vaekit/trainer';
import { defaultTextConfig } from '/work/main/packages/trainer/dist/config.js';
import { buildTextVae } from '/work/main/packages/trainer/dist/models/text.js';
import { tokenCrossEntropy, gaussianKlPerDim, freeBitsKl, reparameterize } from '/work/main/packages/trainer/dist/losses.js';
const info = await initBackend('auto'); console.log(info);
const [V,E,H,Z,B,T] = process.argv.slice(2).map(Number);
const cfg = defaultTextConfig({embedding:E, hidden:H, latent:Z});
const {encoder, decoder} = buildTextVae(cfg, {vocabSize:V, seqLength:T});
const opt = tf.train.adam(1e-3);
const ids = tf.randomUniform([B,T],4,V,'int32'); const mask = tf.ones([B,T]);
for (let i=0;i<4;i++){
  const t0=performance.now();
  const loss = opt.minimize(()=>{
    const [mu,lv]=encoder.apply(ids,{training:true});
    const z = reparameterize(mu,lv,tf.randomNormal([B,Z]));
    const logits=decoder.apply([ids,z],{training:true});
    return tokenCrossEntropy(logits,ids,mask).mean().add(freeBitsKl(gaussianKlPerDim(mu,lv),0));
  },true);
  await loss.data(); loss.dispose();
  console.log('step ms', (performance.now()-t0).toFixed(0), tf.memory().numTensors);
}
