import sharp from 'sharp';

/** Plain images made on the spot: the repository holds no explicit (or any other) test pictures. */

/** A horizontal colour gradient, like a sky. */
export async function gradientPng(width = 640, height = 360): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const offset = (y * width + x) * 3;
      pixels[offset] = Math.round((255 * x) / width);
      pixels[offset + 1] = Math.round((255 * y) / height);
      pixels[offset + 2] = 180;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** Coloured shapes on a light background, rendered from SVG. */
export function shapesPng(width = 640, height = 360): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="#f4f1e8"/>
    <circle cx="${width * 0.3}" cy="${height * 0.5}" r="${height * 0.3}" fill="#2a6f97"/>
    <rect x="${width * 0.55}" y="${height * 0.2}" width="${width * 0.3}" height="${height * 0.6}" fill="#e07a5f"/>
    <polygon points="${width * 0.1},${height * 0.95} ${width * 0.5},${height * 0.7} ${width * 0.9},${height * 0.95}" fill="#81b29a"/>
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
