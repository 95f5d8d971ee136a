// Node memjs (memcached binary protocol): get, and several gets in flight.
// Usage: node memjs_client.js HOST:PORT   (memjs installed with npm beside it)
const memjs = require('memjs');

const server = process.argv[2];
const client = memjs.Client.create(server, { retries: 0, timeout: 5, conntimeout: 2 });
let last = -1n;
let count = 0;
function check(what, value) {
  if (value === null || value === undefined) throw new Error(`${what}: no id`);
  const text = value.toString();
  if (!/^[0-9]{1,20}$/.test(text)) throw new Error(`${what}: not a decimal id: ${text}`);
  const v = BigInt(text);
  if (v >= 1n << 63n) throw new Error(`${what}: ${v} has bit 63 set`);
  if (v <= last) throw new Error(`${what}: ${v} does not increase (after ${last})`);
  last = v;
  count += 1;
}

(async () => {
  try {
    const one = await client.get('a');
    check('get', one.value);
    const many = await Promise.all(['k1', 'k2', 'k3'].map((k) => client.get(k)));
    many.map((r) => BigInt(r.value.toString()))
        .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
        .forEach((v) => check('get in flight', v.toString()));
    console.log(`node memjs (binary): ${count} ids ok`);
    client.close();
  } catch (e) {
    console.error(e.message || e);
    client.close();
    process.exit(1);
  }
})();
