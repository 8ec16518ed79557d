#!/usr/bin/env bash
# Performs the Dockerfile's build and runtime steps in a temporary folder, for machines without a
# Docker engine (CI, developers): copy the build context the Dockerfile COPYs (the git-tracked
# files of it, as a clean checkout has them), build, `npm pack`,
# unpack the tarball into a fresh folder with the lockfile, `npm ci --omit=dev`, then run the
# image's ENTRYPOINT/CMD (`ox-batch start`) against Redis with a unique prefix, probe /healthz,
# /readyz and /metrics, send SIGTERM and require a clean exit 0.
#
#   scripts/image-steps.sh                 # REDIS_URL (default redis://127.0.0.1:6379)
#   IMAGE_STEPS_FULL_CI=1 scripts/...      # build stage runs its own `npm ci` instead of reusing node_modules
#   IMAGE_STEPS_KEEP=1 scripts/...         # keep the temp folder for inspection
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
work="$(mktemp -d "${TMPDIR:-/tmp}/oxb-image.XXXXXX")"
prefix="oxbimg-$(node -e 'process.stdout.write(require("node:crypto").randomUUID().slice(0,8))')"
daemon_pid=""

step() { printf 'image-steps: %s\n' "$*"; }
fail() { printf 'image-steps: FAILED: %s\n' "$*" >&2; exit 1; }

cleanup() {
  local code=$?
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
  if [[ -d "$work/app/node_modules/ioredis" ]]; then
    (cd "$work/app" && PREFIX="$prefix" node -e '
      const { Redis } = require("ioredis");
      const r = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
      r.connect().then(async () => {
        let cursor = "0";
        do {
          const [next, keys] = await r.scan(cursor, "MATCH", `${process.env.PREFIX}:*`, "COUNT", 1000);
          cursor = next;
          if (keys.length) await r.del(...keys);
        } while (cursor !== "0");
      }).catch(() => {}).finally(() => r.disconnect());' 2>/dev/null) || true
  fi
  if [[ "${IMAGE_STEPS_KEEP:-}" == "1" ]]; then step "kept $work"; else rm -rf "$work"; fi
  exit "$code"
}
trap cleanup EXIT

# ---- build stage ----------------------------------------------------------------------------
step "build stage in $work/build"
mkdir -p "$work/build"
context=(package.json package-lock.json tsconfig.json tsconfig.build.json config src jobs bench scripts/copy-lua.mjs)
for item in "${context[@]}"; do [[ -e "$repo/$item" ]] || fail "$item missing from the build context"; done
if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # What a checkout holds (tracked files, as in the working tree): an image is built from a
  # clean clone, not from scratch files lying around.
  git -C "$repo" ls-files -z -- "${context[@]}" \
    | tar -C "$repo" --null --ignore-failed-read -T - -cf - | tar -C "$work/build" -xf -
else
  for item in "${context[@]}"; do cp -R "$repo/$item" "$work/build/"; done
fi
cd "$work/build"
if [[ "${IMAGE_STEPS_FULL_CI:-}" == "1" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  # Same dependency tree as `npm ci` gives (the lockfile's), without downloading it again.
  ln -s "$repo/node_modules" node_modules
fi
npm run build --silent || fail "npm run build"
tarball="$(npm pack --silent --pack-destination "$work")" || fail "npm pack"
step "packed $tarball ($(du -h "$work/$tarball" | cut -f1))"

# ---- runtime stage --------------------------------------------------------------------------
step "runtime stage in $work/app: npm ci --omit=dev from the packed tarball + lockfile"
mkdir -p "$work/app" "$work/bin"
tar -xzf "$work/$tarball" -C "$work/app" --strip-components=1
cp package-lock.json "$work/app/"
cd "$work/app"
NODE_ENV=production npm ci --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error || fail "npm ci --omit=dev"
# As in the Dockerfile: typescript only arrives as valibot's optional peer (types); not needed to run.
rm -rf node_modules/typescript node_modules/@typescript
for dev in typescript vitest tsx s3rver mailparser playwright-core; do
  [[ ! -e "node_modules/$dev" ]] || fail "devDependency $dev was installed in the runtime stage"
done
[[ ! -e test && ! -e src ]] || fail "the package carries test/ or src/ (check package.json files)"
[[ -f config/default.yaml ]] || fail "config/default.yaml missing from the package"
chmod 0755 dist/src/cli/main.js
ln -s "$work/app/dist/src/cli/main.js" "$work/bin/ox-batch"
step "runtime: $(du -sh "$work/app" | cut -f1) installed, $(ls node_modules | wc -l) top-level packages"


# ---- run the image's ENTRYPOINT + CMD -------------------------------------------------------
port="$(node -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})')"
step "ox-batch start (prefix $prefix, port $port)"
mkdir -p "$work/run"
cd "$work/run"
NODE_ENV=production OXB_REDIS_PREFIX="$prefix" OXB_HTTP_PORT="$port" OXB_ARCHIVE_DIR="$work/run/var/archive" \
  PATH="$work/bin:$PATH" ox-batch start >"$work/daemon.log" 2>&1 &
daemon_pid=$!

probe() { node -e 'fetch(process.argv[1]).then(async r=>{process.stdout.write(String(r.status)+"\n"+await r.text());process.exit(r.ok?0:1)},()=>process.exit(2))' "$1"; }
healthy=""
for _ in $(seq 1 150); do
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/daemon.log" >&2; fail "ox-batch start exited before answering /healthz"; }
  if probe "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.2
done
[[ -n "$healthy" ]] || { cat "$work/daemon.log" >&2; fail "/healthz did not answer 200 within 30 s"; }
step "/healthz 200"
ready=""
for _ in $(seq 1 100); do
  if probe "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
[[ -n "$ready" ]] || { cat "$work/daemon.log" >&2; fail "/readyz did not answer 200 within 20 s"; }
step "/readyz 200"
metrics="$(probe "http://127.0.0.1:$port/metrics")" || fail "/metrics did not answer 200"
grep -q '^# TYPE oxb_' <<<"$metrics" || fail "/metrics has no oxb_ series"
step "/metrics 200 ($(grep -c '^# TYPE oxb_' <<<"$metrics") oxb_ metrics)"

step "SIGTERM"
kill -TERM "$daemon_pid"
exit_code=0
for _ in $(seq 1 300); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$daemon_pid" 2>/dev/null; then cat "$work/daemon.log" >&2; fail "still running 30 s after SIGTERM"; fi
wait "$daemon_pid" || exit_code=$?
daemon_pid=""
[[ "$exit_code" == "0" ]] || { cat "$work/daemon.log" >&2; fail "exit code $exit_code after SIGTERM (expected 0)"; }
step "exit 0 after SIGTERM"
step "OK"
