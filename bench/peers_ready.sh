# Sourced by bench/token_endpoint and bench/token_cpu before they start anything: every peer that PEERS
# names must have been set up by ../shared/bench-peers, or the run would stop a minute later with a bare
# `cd` error from peer.sh. Reads PEERS and PEERS_DIR.
peers_work=${BENCH_WORK:-/tmp/bench-peers}
for peer in ${PEERS-}; do
  case $peer in
    oidc | oidc-cluster2) [[ -d $peers_work/oidc/node_modules ]] ||
      { echo "node-oidc-provider is not set up: bash $PEERS_DIR/setup_oidc_provider.sh" >&2; exit 1; } ;;
    dot-pbkdf2 | dot-sha256 | dot-plain | dot-jwt) [[ -x $peers_work/dot/venv/bin/python ]] ||
      { echo "django-oauth-toolkit is not set up: bash $PEERS_DIR/setup_dot.sh" >&2; exit 1; } ;;
    *) echo "unknown peer '$peer' in PEERS (oidc, oidc-cluster2, dot-pbkdf2, dot-sha256, dot-plain, dot-jwt)" >&2; exit 1 ;;
  esac
done
