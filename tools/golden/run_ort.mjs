// run_ort.mjs — run ONNX graphs with onnxruntime-node on raw float32 files (offline tool).
//
// Usage: node run_ort.mjs JOB.json
// JOB.json: { "threads": 2,
//             "sessions": { "enc": "/path/encoder.onnx", ... },
//             "runs": [ { "session": "enc",
//                         "feeds":   { "input": { "file": "x.f32", "dims": [1,3,1024,1024] } },
//                         "outputs": { "output": "y.f32" } }, ... ] }
// Every feed and output is little-endian float32, row-major. Prints one JSON line per run:
// {"run": i, "ms": t, "dims": {"output": [...]}} so the caller can check the shapes.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

function readF32(path, dims) {
  const buf = fs.readFileSync(path);
  const n = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== n * 4) {
    throw new Error(`${path}: ${buf.length} bytes, expected ${n * 4} for dims [${dims}]`);
  }
  // copy into an aligned array (little-endian host assumed, checked in main)
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

function writeF32(path, data) {
  fs.writeFileSync(path, new Uint8Array(data.buffer, data.byteOffset, data.length * 4));
}

async function main() {
  if (process.argv.length !== 3) {
    console.error('usage: node run_ort.mjs JOB.json');
    process.exit(2);
  }
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('big-endian host');
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const opts = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: job.threads ?? 2,
    interOpNumThreads: 1,
  };
  const sessions = {};
  for (const [name, path] of Object.entries(job.sessions)) {
    sessions[name] = await ort.InferenceSession.create(path, opts);
  }
  for (let i = 0; i < job.runs.length; i++) {
    const r = job.runs[i];
    const sess = sessions[r.session];
    if (!sess) throw new Error(`run ${i}: unknown session ${r.session}`);
    const feeds = {};
    for (const [name, f] of Object.entries(r.feeds)) {
      feeds[name] = new ort.Tensor('float32', readF32(f.file, f.dims), f.dims);
    }
    const t0 = process.hrtime.bigint();
    const res = await sess.run(feeds); // all outputs (fetching a subset misbehaved in 1.20.1)
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const dims = {};
    for (const [name, file] of Object.entries(r.outputs)) {
      if (!res[name]) throw new Error(`run ${i} (${r.session}): no output ${name}`);
      writeF32(file, res[name].data);
      dims[name] = res[name].dims;
    }
    console.log(JSON.stringify({ run: i, ms, dims }));
  }
}

main().catch((e) => {
  console.error(`run_ort: ${e.message}`);
  process.exit(1);
});
