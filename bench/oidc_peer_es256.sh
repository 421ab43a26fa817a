# Sourced by bench/token_endpoint and bench/token_cpu when ALG is not RS256: points BENCH_WORK at a copy of
# node-oidc-provider (as ../shared/bench-peers/setup_oidc_provider.sh installed it) whose server signs
# access tokens with ES256, from a P-256 key added to its JWKS, so that peer.sh starts that one.
# Reads ALG and PEERS_DIR; bench/peers_ready.sh has checked that the peer is set up.
[[ $ALG == ES256 ]] || { echo "node-oidc-provider is compared with ALG=RS256 or ES256, not $ALG" >&2; exit 1; }
base=${BENCH_WORK:-/tmp/bench-peers}
export BENCH_WORK=/tmp/bench-peers-es256
mkdir -p "$BENCH_WORK/oidc"
ln -sfn "$base/oidc/node_modules" "$BENCH_WORK/oidc/node_modules"
cp "$base/oidc/package.json" "$BENCH_WORK/oidc/" 2>/dev/null || true
sed "s/jwt: { sign: { alg: 'RS256' } }/jwt: { sign: { alg: 'ES256' } }/" "$base/oidc/server.mjs" > "$BENCH_WORK/oidc/server.mjs"
grep -q "alg: 'ES256'" "$BENCH_WORK/oidc/server.mjs" || { echo "could not switch the peer to ES256" >&2; exit 1; }
(cd "$BENCH_WORK/oidc" && node --input-type=module -e "
  import crypto from 'node:crypto'; import fs from 'node:fs';
  const jwks = JSON.parse(fs.readFileSync('$base/oidc/jwks.json', 'utf8'));
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  jwks.keys.push({ ...privateKey.export({ format: 'jwk' }), kid: 'es256-bench', alg: 'ES256', use: 'sig' });
  fs.writeFileSync('jwks.json', JSON.stringify(jwks), { mode: 0o600 });")
