"""Encryption of the API keys kept in the store (`babelgate accounts add`), with a key kept outside it.

The key is `$BABELGATE_STORE_KEY` (a Fernet key, as `babelgate accounts add` prints none: make one
with `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`),
else the file `store.key_file` (default `~/.config/babelgate/store.key`), created 0600 in a 0700
directory by the first key stored. A copied store file is useless without it.

Stored values are `fernet:<token>`; a value without the prefix is a plaintext key written by an
older babelgate, read as it is (and encrypted when the store is next opened).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "fernet:"
ENV = "BABELGATE_STORE_KEY"


class KeyUnavailable(Exception):
    """The store's encryption key is missing, unreadable or not the one the keys were stored with."""


def default_key_file() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(config) / "babelgate" / "store.key"


class KeyCipher:
    def __init__(self, key_file: str | os.PathLike[str] | None = None) -> None:
        self.key_file = Path(key_file).expanduser() if key_file else default_key_file()
        self._fernet: Fernet | None = None

    def encrypt(self, key: str) -> str:
        return PREFIX + self._cipher(create=True).encrypt(key.encode()).decode()

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # plaintext, from before encryption
        try:
            return self._cipher(create=False).decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise KeyUnavailable(f"a stored key does not decrypt with the key in {self._source()}") from None

    def _source(self) -> str:
        return f"${ENV}" if os.environ.get(ENV) else str(self.key_file)

    def _cipher(self, *, create: bool) -> Fernet:
        if self._fernet is None:
            self._fernet = Fernet(self._load(create))
        return self._fernet

    def _load(self, create: bool) -> bytes:
        try:
            if os.environ.get(ENV):
                return _valid(os.environ[ENV].encode(), f"${ENV}")
            if self.key_file.exists():
                return _valid(self.key_file.read_bytes().strip(), str(self.key_file))
            if not create:
                raise KeyUnavailable(f"the store's keys are encrypted, and the key file {self.key_file} is missing")
            return self._create()
        except OSError as error:
            raise KeyUnavailable(f"cannot use the store key file {self.key_file}: {error.strerror}") from None

    def _create(self) -> bytes:
        key = Fernet.generate_key()
        self.key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(key + b"\n")
        return key


def _valid(key: bytes, source: str) -> bytes:
    try:
        Fernet(key)
    except ValueError:
        raise KeyUnavailable(f"{source} is not a Fernet key (32 url-safe base64-encoded bytes)") from None
    return key
