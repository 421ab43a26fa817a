"""Key material: generation, and encryption at rest under the key-encryption key (KEK)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured
from jwcrypto.jwk import JWK

from core.conf import app_settings

_PUBLIC_ONLY = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})


def kek_fernet() -> MultiFernet:
    """The current KEK encrypts; it and any AUTHPORTAL_KEK_PREVIOUS decrypt (during a KEK rotation)."""
    return MultiFernet(
        [_fernet("AUTHPORTAL_KEK", app_settings.KEK)]
        + [_fernet("AUTHPORTAL_KEK_PREVIOUS", kek) for kek in app_settings.KEK_PREVIOUS]
    )


def _fernet(name: str, value: str) -> Fernet:
    try:
        return Fernet(value)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            f"{name} must be 32 random bytes in URL-safe base64 (44 characters); make one with: "
            "python -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
        ) from None


def private_key_reencrypt(token: str) -> str:
    """The same private key, encrypted under the current KEK (MultiFernet.rotate)."""
    try:
        return kek_fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A signing key cannot be decrypted with AUTHPORTAL_KEK or AUTHPORTAL_KEK_PREVIOUS."
        ) from None


def public_key_pem(public_jwk: dict[str, str]) -> bytes:
    pem: bytes = JWK(**public_jwk).export_to_pem(private_key=False)
    return pem


def jwk_generate(algorithm: str) -> JWK:
    if algorithm in ("RS256", "PS256"):
        return JWK.generate(kty="RSA", size=2048)
    if algorithm == "ES256":
        return JWK.generate(kty="EC", crv="P-256")
    if algorithm == "EdDSA":
        return JWK.generate(kty="OKP", crv="Ed25519")
    raise ValueError(f"unsupported signing algorithm {algorithm!r}")


def jwk_public_dict(key: JWK, *, kid: str, algorithm: str) -> dict[str, str]:
    public = key.export_public(as_dict=True)
    public = {name: value for name, value in public.items() if name not in _PUBLIC_ONLY}
    public.update({"kid": kid, "use": "sig", "alg": algorithm})
    return public


def private_key_encrypt(key: JWK) -> str:
    pem = key.export_to_pem(private_key=True, password=None)
    return kek_fernet().encrypt(pem).decode()


def private_key_decrypt(token: str) -> JWK:
    try:
        pem = kek_fernet().decrypt(token.encode())
    except InvalidToken:
        raise ImproperlyConfigured(
            "A signing key cannot be decrypted with AUTHPORTAL_KEK: the key-encryption key is not the one "
            "the keys were stored under."
        ) from None
    return JWK.from_pem(pem)
