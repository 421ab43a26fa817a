// usage: node verify_jose.mjs ISSUER_METADATA_URL AUDIENCE TOKEN
// Discovers the JWKS from our RFC 8414 metadata and verifies like a JavaScript service would.
import { createRemoteJWKSet, jwtVerify } from "jose";

const [metadataUrl, audience, token] = process.argv.slice(2);
const metadata = await (await fetch(metadataUrl)).json();
const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
try {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: metadata.issuer,
    audience,
    typ: "at+jwt",
    algorithms: ["RS256", "PS256", "ES256", "EdDSA"],
  });
  console.log(JSON.stringify({ ok: true, payload, protectedHeader }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, code: error.code, message: error.message }));
  process.exit(1);
}
