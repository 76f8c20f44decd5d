/**
 * `Conv2DBackpropFilter` for the WASM backend, which lacks it (Conv2D and Conv2DTranspose cannot train
 * there otherwise). The filter gradient is one matrix product: im2col(x)^T [K, R] @ dy [R, Cout], with
 * K = kH*kW*Cin and R = batch*outH*outW; the product runs on the WASM backend's BatchMatMul.
 */
import * as tf from '@tensorflow/tfjs';

interface BackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** Fills im2col patches `[batch*outH*outW, kH*kW*Cin]` of an NHWC input (zeros where padded). */
export function im2col(x: Float32Array, info: tf.backend_util.Conv2DInfo): Float32Array {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;
  const k = filterHeight * filterWidth * inChannels;
  const patches = new Float32Array(batchSize * outHeight * outWidth * k);
  let row = 0;
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * inWidth * inChannels;
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++, row++) {
        const base = row * k;
        for (let fy = 0; fy < filterHeight; fy++) {
          const iy = oy * strideHeight - top + fy * dilationHeight;
          if (iy < 0 || iy >= inHeight) continue;
          for (let fx = 0; fx < filterWidth; fx++) {
            const ix = ox * strideWidth - left + fx * dilationWidth;
            if (ix < 0 || ix >= inWidth) continue;
            const src = xb + (iy * inWidth + ix) * inChannels;
            patches.set(x.subarray(src, src + inChannels), base + (fy * filterWidth + fx) * inChannels);
          }
        }
      }
    }
  }
  return patches;
}

/**
 * Registers the WASM `Conv2DBackpropFilter` kernel (NHWC). Returns false, registering nothing, when the
 * WASM backend already has one.
 */
export function registerWasmConv2DBackpropFilter(): boolean {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return false;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const wasm = backend as tf.KernelBackend;
      const x = inputs.x as tf.TensorInfo;
      const dy = inputs.dy as tf.TensorInfo;
      const a = attrs as unknown as BackpropFilterAttrs;
      if (a.dataFormat !== 'NHWC') throw new Error('vaekit WASM Conv2DBackpropFilter supports NHWC only.');
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        a.filterShape,
        a.strides,
        1,
        a.pad,
        a.dimRoundingMode,
        false,
        'channelsLast',
      );
      const rows = info.batchSize * info.outHeight * info.outWidth;
      const k = info.filterHeight * info.filterWidth * info.inChannels;
      const patches = im2col(wasm.readSync(x.dataId) as Float32Array, info);
      const patchesInfo: tf.TensorInfo = { dataId: wasm.write(patches, [1, rows, k], 'float32'), shape: [1, rows, k], dtype: 'float32' };
      const dyInfo: tf.TensorInfo = { dataId: dy.dataId, shape: [1, rows, info.outChannels], dtype: 'float32' };
      const matMul = tf.getKernel('BatchMatMul', 'wasm')!;
      const out = matMul.kernelFunc({
        inputs: { a: patchesInfo, b: dyInfo },
        backend: wasm,
        attrs: { transposeA: true, transposeB: false },
      }) as tf.TensorInfo;
      wasm.disposeData(patchesInfo.dataId);
      return { dataId: out.dataId, shape: [...a.filterShape], dtype: 'float32' };
    },
  });
  return true;
}
