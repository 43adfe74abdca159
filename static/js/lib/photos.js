/* Photos shrunk on the tablet before they are queued: a 12-megapixel camera photo is 3-6 MB, a
   minute or more on a weak upload; its long side scaled to the page's `long_side` (from the
   server) as JPEG is a few hundred KB, stepping the quality down until it is under `max_bytes`.
   EXIF orientation is applied by the browser while decoding, and no metadata is carried over. */
window.gisgridPhotos = (function () {
  "use strict";
  const QUALITIES = [0.82, 0.72, 0.62, 0.52, 0.42];

  function encode(canvas, quality) {
    if (canvas.convertToBlob) { return canvas.convertToBlob({ type: "image/jpeg", quality: quality }); }
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", quality); });
  }

  async function shrink(file, longSide, maxBytes) {
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    const scale = Math.min(1, longSide / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale)), height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = window.OffscreenCanvas ? new OffscreenCanvas(width, height)
      : Object.assign(document.createElement("canvas"), { width: width, height: height });
    const context = canvas.getContext("2d");
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, width, height);
    bitmap.close();
    let blob = null;
    for (const quality of QUALITIES) {
      blob = await encode(canvas, quality);
      if (blob.size <= maxBytes) { break; }
    }
    return blob;
  }

  return { shrink: shrink };
})();
