// decoder.js: decoder's player, served by decoder at /decoder.js, a
// dependency-free ES module (its parts, player.js, media.js, codecs.js and
// decoder-stream.js, are served beside it). In a page:
//
//   import { DecoderPlayer } from 'http://127.0.0.1:3000/decoder.js';
//   const player = new DecoderPlayer(video, { src: 'front-door' });
//   player.addEventListener('state', (e) => console.log(e.detail.state, e.detail.reason));
//   player.addEventListener('stats', (e) => console.log(e.detail));
//   // later: player.destroy();
//
// or, with no script of the page's own, once the module is loaded:
//
//   <script type="module" src="http://127.0.0.1:3000/decoder.js"></script>
//   <decoder-stream src="front-door"></decoder-stream>
//
// Types, and what each option, attribute and event means: decoder.d.ts.

export { DecoderPlayer } from './player.js';
export { DecoderStream } from './decoder-stream.js';
// Which codec families codecs: 'auto' asks for.
export { supportedFamilies } from './codecs.js';
