import v8 from 'node:v8';

/**
 * V8 settings for the server process, set before any other module runs (src/main.ts imports this first).
 *
 * No allocation-site pretenuring: at start-up the store, its indexes and the kept-files indexes are built by the
 * very functions that later build a phone's answer, and every object they made survived, so V8 learnt to allocate
 * from those sites straight into the old generation. In a boot storm every phone's short-lived answer objects then
 * landed there: at 100k devices six full collections in a 10 s walk, ~150 ms of marking steps each (up to 24 ms in
 * one step) on the phones' core. Without it the same walk ran 9.7k -> 14k configs/s, p99 89 -> 17-30 ms
 * (README "Boot storm"). V8 reads this flag at each collection, so setting it at run time takes effect.
 */
v8.setFlagsFromString('--no-allocation-site-pretenuring');
