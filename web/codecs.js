// codecs.js: what this browser plays through Media Source Extensions, in
// the codec families decoder's /live?codecs= takes. Imported by decoder.js;
// served by decoder at /codecs.js.

/**
 * A MIME type to ask MediaSource about, for each codec family decoder
 * knows: H.264, H.265, AAC, FLAC and Opus in fragmented MP4.
 * @type {Readonly<Record<string, string>>}
 */
export const FAMILY_PROBES = Object.freeze({
  avc1: 'video/mp4; codecs="avc1.42E01E"',
  hvc1: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
  mp4a: 'audio/mp4; codecs="mp4a.40.2"',
  flac: 'audio/mp4; codecs="flac"',
  opus: 'audio/mp4; codecs="opus"',
});

/**
 * The codec families this browser plays through Media Source Extensions,
 * as MediaSource.isTypeSupported answers for a common profile of each;
 * none where there is no MediaSource.
 * @returns {string[]}
 */
export function supportedFamilies() {
  if (typeof MediaSource === 'undefined') return [];
  return Object.entries(FAMILY_PROBES).filter(([, mime]) => MediaSource.isTypeSupported(mime)).map(([family]) => family);
}

/**
 * The family of a codec string, e.g. avc1 for avc1.4d401f; hev1 counts as
 * hvc1 and avc3 as avc1 (the same codecs, parameter sets carried apart).
 * @param {string} codec
 * @returns {string}
 */
export function familyOf(codec) {
  const f = codec.split('.')[0];
  return f === 'hev1' ? 'hvc1' : f === 'avc3' ? 'avc1' : f;
}
