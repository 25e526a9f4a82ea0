// decoder.js: decoder's player, served by decoder at /decoder.js, a
// dependency-free ES module (its parts, player.js, media.js and codecs.js,
// are served beside it). In a page:
//
//   import { DecoderPlayer } from 'http://127.0.0.1:3000/decoder.js';
//   const player = new DecoderPlayer(video, { src: 'front-door' });
//   player.addEventListener('state', (e) => console.log(e.detail.state, e.detail.reason));
//   player.addEventListener('stats', (e) => console.log(e.detail));
//   // later: player.destroy();
//
// Types, and what each option and event means: decoder.d.ts.

export { DecoderPlayer } from './player.js';
// Which codec families codecs: 'auto' asks for.
export { supportedFamilies } from './codecs.js';
