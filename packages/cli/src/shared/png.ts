/** Image grids as PNG files (pngjs does the encoding). */
import { PNG } from 'pngjs';

/** Layout of a grid of equally sized images. */
export interface GridOptions {
  height: number;
  width: number;
  channels: number;
  /** Images per row (default: square-ish). */
  columns?: number;
  /** Integer upscaling of every pixel (default 2) so small digits are easy to see. */
  scale?: number;
  /** Border between cells in output pixels (default 2). */
  padding?: number;
}

/**
 * Encodes images (flat HWC arrays with values in [0, 1]) as one PNG grid, row by row. Channel counts
 * of 1 (grey) and 3 (RGB) are supported.
 */
export function imageGridPng(images: Float32Array[], options: GridOptions): Buffer {
  const { height, width, channels } = options;
  if (channels !== 1 && channels !== 3) throw new Error(`PNG grids support 1 or 3 channels, got ${channels}.`);
  const columns = options.columns ?? Math.ceil(Math.sqrt(images.length));
  const rows = Math.ceil(images.length / columns);
  const scale = options.scale ?? 2;
  const pad = options.padding ?? 2;
  const cellW = width * scale;
  const cellH = height * scale;
  const png = new PNG({ width: columns * (cellW + pad) + pad, height: rows * (cellH + pad) + pad });
  png.data.fill(0);
  for (let i = 0; i < png.data.length; i += 4) {
    png.data[i] = 40;
    png.data[i + 1] = 40;
    png.data[i + 2] = 60;
    png.data[i + 3] = 255;
  }
  images.forEach((img, index) => {
    const ox = pad + (index % columns) * (cellW + pad);
    const oy = pad + Math.floor(index / columns) * (cellH + pad);
    for (let y = 0; y < cellH; y++) {
      for (let x = 0; x < cellW; x++) {
        const src = (Math.floor(y / scale) * width + Math.floor(x / scale)) * channels;
        const dst = ((oy + y) * png.width + (ox + x)) * 4;
        for (let c = 0; c < 3; c++) {
          const v = img[src + (channels === 1 ? 0 : c)] ?? 0;
          png.data[dst + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
        }
        png.data[dst + 3] = 255;
      }
    }
  });
  return PNG.sync.write(png);
}
