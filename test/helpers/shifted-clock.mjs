// Preloaded into child processes (`node --import`) by test/helpers/clock.ts: shifts this
// process's clock by OXB_TEST_CLOCK_OFFSET_MS, so a child agrees with its test on "now" (noon
// UTC) whatever the wall clock says. Plain JS: it runs before any TypeScript loader.
const offset = Number(process.env.OXB_TEST_CLOCK_OFFSET_MS ?? 0);
if (offset !== 0 && Number.isFinite(offset)) {
  const RealDate = globalThis.Date;
  const realNow = RealDate.now.bind(RealDate);
  RealDate.now = () => realNow() + offset;
  // `new Date()` reads the shifted clock; every other form, and `instanceof Date`, are untouched.
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length === 0 ? [RealDate.now()] : args, newTarget === globalThis.Date ? target : newTarget);
    },
  });
}
