<?php
// usage: php verify_openssl.php PUBLIC_KEY_PEM_FILE TOKEN ISSUER AUDIENCE
// Verifies an RS256 access token the way PHP services that read a shared `oauth-public.key` do
// (Laravel Passport style): PHP's own openssl extension, no JWT library.
[$script, $pemFile, $token, $issuer, $audience] = $argv;

function b64url_decode(string $data): string|false {
    return base64_decode(strtr($data, '-_', '+/') . str_repeat('=', (4 - strlen($data) % 4) % 4), true);
}

$parts = explode('.', $token);
if (count($parts) !== 3) { fwrite(STDERR, "not a JWS\n"); exit(1); }
[$h, $p, $s] = $parts;
$header = json_decode(b64url_decode($h), true, 8, JSON_THROW_ON_ERROR);
$claims = json_decode(b64url_decode($p), true, 8, JSON_THROW_ON_ERROR);
if (($header['alg'] ?? '') !== 'RS256' || ($header['typ'] ?? '') !== 'at+jwt') { fwrite(STDERR, "bad header\n"); exit(1); }
$key = openssl_pkey_get_public(file_get_contents($pemFile));
if (openssl_verify("$h.$p", b64url_decode($s), $key, OPENSSL_ALGO_SHA256) !== 1) { fwrite(STDERR, "bad signature\n"); exit(1); }
$aud = (array)($claims['aud'] ?? []);
if (($claims['iss'] ?? '') !== $issuer || !in_array($audience, $aud, true) || ($claims['exp'] ?? 0) <= time()) {
    fwrite(STDERR, "bad claims\n"); exit(1);
}
echo json_encode(['ok' => true, 'client_id' => $claims['client_id'], 'scope' => $claims['scope']]), "\n";
