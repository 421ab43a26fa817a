// usage: node sign_assertion_jose.mjs PRIVATE_JWK_JSON CLIENT_ID AUDIENCE
// Signs a private_key_jwt client assertion (RFC 7523 §2.2) the way jose's documentation shows.
import { importJWK, SignJWT } from "jose";

const [privateJwk, clientId, audience] = process.argv.slice(2);
const jwk = JSON.parse(privateJwk);
const key = await importJWK(jwk, jwk.alg);
const assertion = await new SignJWT({})
  .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: "client-authentication+jwt" })
  .setIssuer(clientId)
  .setSubject(clientId)
  .setAudience(audience)
  .setIssuedAt()
  .setExpirationTime("2m")
  .setJti(crypto.randomUUID())
  .sign(key);
console.log(assertion);
