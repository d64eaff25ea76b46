//! The encrypted file's layout: sealing and opening, no I/O.
//!
//! ```text
//! offset size  field
//!      0    8  magic "UCPCREDS"
//!      8    1  format version (1)
//!      9    1  key source: 1 = 32-byte key, 2 = Argon2id passphrase
//!     10   12  Argon2id m_cost (KiB), t_cost, p_cost: u32 little-endian (zero for a key)
//!     22   16  Argon2id salt
//!     38   24  key-check nonce
//!     62   16  key-check tag: XChaCha20-Poly1305 over nothing, bytes 0..38 as associated data
//!     78   24  payload nonce
//!    102    8  payload length (ciphertext + tag), u64 little-endian
//!    110    n  payload: XChaCha20-Poly1305 of the JSON entries, bytes 0..110 as associated data
//!  110+n   32  SHA-256 of bytes 0..110+n
//! ```
//!
//! The plain checksum tells a damaged file (a flipped byte) from a wrong key; the key check
//! tells a wrong key from a deliberately edited payload; the length tells a truncated file.
//! Confidentiality and integrity rest on the AEAD alone.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::FileError;

const MAGIC: &[u8; 8] = b"UCPCREDS";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 110;
const DIGEST_LEN: usize = 32;
const KEY_CHECK_CONTEXT: &[u8] = b"ucp credential file key check";

/// Key source recorded in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// A raw 32-byte key.
    Key,
    /// Argon2id over a passphrase.
    Passphrase {
        m_cost_kib: u32,
        t_cost: u32,
        p_cost: u32,
        salt: [u8; 16],
    },
}

impl KeySource {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            KeySource::Key => "a 32-byte key file",
            KeySource::Passphrase { .. } => "a passphrase",
        }
    }
}

/// What the header says before any key is applied.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) source: KeySource,
}

/// Reads the header and checks length and checksum. Needs no key.
pub(crate) fn inspect(bytes: &[u8]) -> Result<Header, FileError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
            return Err(FileError::Truncated {
                expected: (HEADER_LEN + DIGEST_LEN) as u64,
                actual: bytes.len() as u64,
            });
        }
        return Err(FileError::NotACredentialFile);
    }
    if bytes.len() < HEADER_LEN {
        return Err(FileError::Truncated {
            expected: (HEADER_LEN + DIGEST_LEN) as u64,
            actual: bytes.len() as u64,
        });
    }
    if bytes[8] != VERSION {
        return Err(FileError::UnsupportedVersion { version: bytes[8] });
    }
    let payload_len = u64::from_le_bytes(array(&bytes[102..110]));
    let expected = payload_len.saturating_add((HEADER_LEN + DIGEST_LEN) as u64);
    let actual = bytes.len() as u64;
    if actual < expected {
        return Err(FileError::Truncated { expected, actual });
    }
    if actual > expected {
        return Err(FileError::Corrupted {
            detail: "bytes follow the end of the payload",
        });
    }
    let body_end = bytes.len() - DIGEST_LEN;
    let digest = Sha256::digest(&bytes[..body_end]);
    if digest[..] != bytes[body_end..] {
        return Err(FileError::Corrupted {
            detail: "checksum mismatch: a byte of the file changed",
        });
    }
    let source = match bytes[9] {
        1 => KeySource::Key,
        2 => KeySource::Passphrase {
            m_cost_kib: u32::from_le_bytes(array(&bytes[10..14])),
            t_cost: u32::from_le_bytes(array(&bytes[14..18])),
            p_cost: u32::from_le_bytes(array(&bytes[18..22])),
            salt: array(&bytes[22..38]),
        },
        _ => {
            return Err(FileError::Corrupted {
                detail: "unknown key source in the header",
            })
        }
    };
    Ok(Header { source })
}

/// Decrypts a file whose header passed [`inspect`], with the key derived for its source.
pub(crate) fn open(bytes: &[u8], key: &[u8; 32]) -> Result<Zeroizing<Vec<u8>>, FileError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut check_aad = KEY_CHECK_CONTEXT.to_vec();
    check_aad.extend_from_slice(&bytes[..38]);
    cipher
        .decrypt(
            &XNonce::from(array::<24>(&bytes[38..62])),
            Payload {
                msg: &bytes[62..78],
                aad: &check_aad,
            },
        )
        .map_err(|_| FileError::WrongKey)?;
    let payload = &bytes[HEADER_LEN..bytes.len() - DIGEST_LEN];
    cipher
        .decrypt(
            &XNonce::from(array::<24>(&bytes[78..102])),
            Payload {
                msg: payload,
                aad: &bytes[..HEADER_LEN],
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| FileError::Tampered)
}

/// Encrypts `plaintext` into a complete file with fresh nonces.
pub(crate) fn seal(
    source: &KeySource,
    key: &[u8; 32],
    plaintext: &[u8],
) -> Result<Vec<u8>, FileError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut rng = rand::rng();
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.push(VERSION);
    match source {
        KeySource::Key => {
            header.push(1);
            header.extend_from_slice(&[0; 28]);
        }
        KeySource::Passphrase {
            m_cost_kib,
            t_cost,
            p_cost,
            salt,
        } => {
            header.push(2);
            header.extend_from_slice(&m_cost_kib.to_le_bytes());
            header.extend_from_slice(&t_cost.to_le_bytes());
            header.extend_from_slice(&p_cost.to_le_bytes());
            header.extend_from_slice(salt);
        }
    }
    let mut check_nonce = [0u8; 24];
    rng.fill_bytes(&mut check_nonce);
    let mut check_aad = KEY_CHECK_CONTEXT.to_vec();
    check_aad.extend_from_slice(&header);
    let check_tag = cipher
        .encrypt(
            &XNonce::from(check_nonce),
            Payload {
                msg: &[],
                aad: &check_aad,
            },
        )
        .map_err(|_| FileError::Encrypt)?;
    header.extend_from_slice(&check_nonce);
    header.extend_from_slice(&check_tag);
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    header.extend_from_slice(&nonce);
    // Ciphertext length = plaintext + 16-byte Poly1305 tag.
    header.extend_from_slice(&((plaintext.len() + 16) as u64).to_le_bytes());
    debug_assert_eq!(header.len(), HEADER_LEN);
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &header,
            },
        )
        .map_err(|_| FileError::Encrypt)?;
    let mut file = header;
    file.extend_from_slice(&ciphertext);
    let digest = Sha256::digest(&file);
    file.extend_from_slice(&digest);
    Ok(file)
}

/// A fixed-size array from a slice whose length the caller has checked.
fn array<const N: usize>(slice: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&slice[..N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn round_trips_and_refuses_each_kind_of_damage() {
        let sealed = seal(&KeySource::Key, &KEY, b"hello").unwrap();
        inspect(&sealed).unwrap();
        assert_eq!(open(&sealed, &KEY).unwrap().as_slice(), b"hello");
        assert_eq!(open(&sealed, &[8; 32]).unwrap_err(), FileError::WrongKey);
        assert!(matches!(
            inspect(&sealed[..sealed.len() - 1]).unwrap_err(),
            FileError::Truncated { .. }
        ));
        assert!(matches!(
            inspect(&sealed[..20]).unwrap_err(),
            FileError::Truncated { .. }
        ));
        for at in [9, 40, 70, 90, HEADER_LEN + 2, sealed.len() - 1] {
            let mut flipped = sealed.clone();
            flipped[at] ^= 0x01;
            assert!(
                matches!(inspect(&flipped).unwrap_err(), FileError::Corrupted { .. }),
                "flip at {at}"
            );
        }
        // An edit that also fixes the checksum is caught by the AEAD.
        let mut edited = sealed.clone();
        edited[HEADER_LEN] ^= 0x01;
        let end = edited.len() - DIGEST_LEN;
        let digest = Sha256::digest(&edited[..end]);
        edited[end..].copy_from_slice(&digest);
        inspect(&edited).unwrap();
        assert_eq!(open(&edited, &KEY).unwrap_err(), FileError::Tampered);
        assert_eq!(
            inspect(b"not a credential file at all").unwrap_err(),
            FileError::NotACredentialFile
        );
    }
}
