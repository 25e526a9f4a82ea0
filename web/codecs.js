// codecs.js: what this browser plays through Media Source Extensions, in
// the codec families decoder's /live?codecs= takes. Imported by player.js;
// served by decoder at /codecs.js.

/**
 * The constructor of the page's Media Source Extensions: MediaSource, or
 * where it is missing ManagedMediaSource (Safari on iPhone from iOS 17.1,
 * which has no MediaSource). A ManagedMediaSource is a MediaSource that
 * also tells, through `streaming` and its startstreaming and endstreaming
 * events, when the browser wants media appended.
 * @typedef {typeof MediaSource} MediaSourceClass
 */

/**
 * The Media Source Extensions this browser has: MediaSource, else
 * ManagedMediaSource, else null (an iPhone before iOS 17.1).
 * @returns {MediaSourceClass | null}
 */
export function mediaSourceClass() {
  const g = /** @type {{MediaSource?: MediaSourceClass, ManagedMediaSource?: MediaSourceClass}} */ (/** @type {unknown} */ (globalThis));
  return g.MediaSource || g.ManagedMediaSource || null;
}

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
 * as isTypeSupported of MediaSource, or of ManagedMediaSource where that
 * is what there is, answers for a common profile of each; none where there
 * is neither.
 * @returns {string[]}
 */
export function supportedFamilies() {
  const MS = mediaSourceClass();
  if (!MS) return [];
  return Object.entries(FAMILY_PROBES).filter(([, mime]) => MS.isTypeSupported(mime)).map(([family]) => family);
}

/**
 * Reports whether this browser's Media Source Extensions play a MIME type;
 * false where it has none.
 * @param {string} mime
 * @returns {boolean}
 */
function playable(mime) {
  const MS = mediaSourceClass();
  return MS ? MS.isTypeSupported(mime) : false;
}

/**
 * The families less those of the stream's tracks this browser refuses at
 * the stream's own profile or level, though it claimed the family (H.264
 * is never dropped: decoder can make nothing else of video).
 * @param {string[]} families
 * @param {{video: {codec: string}, audio?: {codec: string}}} info an init message
 * @returns {string[]}
 */
export function withoutUnplayable(families, info) {
  const video = familyOf(info.video.codec);
  const audio = info.audio ? familyOf(info.audio.codec) : '';
  return families.filter((f) =>
    !(f === video && video !== 'avc1' && !playable('video/mp4; codecs="' + info.video.codec + '"')) &&
    !(info.audio && f === audio && !playable('audio/mp4; codecs="' + info.audio.codec + '"')));
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
