//! The encrypted credential file under arbitrary input (issue 12, item 6).
//!
//! Every case goes through `load`, the path `FileCredentials::open` takes (read the file,
//! check its header, derive the key, decrypt, parse the entries). Inputs covered:
//! - arbitrary bytes, with and without the magic prefix: refused as not a credential file,
//!   truncated, of another version or corrupted;
//! - every truncation of a valid file: `Truncated` with the length found;
//! - bit flips anywhere in a valid file: refused by the header checks or the checksum;
//! - single-bit edits whose author also fixed the checksum, at every offset: the error the
//!   layout promises for that region (`WrongKey` for the key check's inputs, `Tampered` for
//!   the payload and its nonce, `Truncated`/`Corrupted` for the length, …), and several such
//!   edits never open;
//! - any wrong passphrase or key: `WrongKey`; a key of the other kind: `KeyKindMismatch`.
//!
//! No error, in its `Display` or `Debug` form, bare or wrapped in a `CredentialError`, ever
//! holds the passphrase or the stored secret (checked with the testkit's leak scanner).
//! Passphrase files use the smallest Argon2id cost so that a case takes microseconds; edits
//! that keep the checksum use raw-key files, since an edited cost could ask Argon2id for up
//! to the 1 GiB the header bounds allow.

use std::path::PathBuf;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};
use ucp_testkit::leak::LeakScanner;

use super::super::wire::{WireCredential, WireEntry};
use super::super::{Credential, CredentialError, CredentialRef};
use super::format::{self, KeySource};
use super::{derive, load, FileError, FileKey, KdfParams};

// The layout of format.rs (see its module docs).
const MAGIC: &[u8] = b"UCPCREDS";
const HEADER_LEN: usize = 110;
const DIGEST_LEN: usize = 32;

const TINY: KdfParams = KdfParams {
    m_cost_kib: 8,
    t_cost: 1,
    p_cost: 1,
};

fn reference() -> CredentialRef {
    CredentialRef::new("contoso", "okta")
}

/// The file's plaintext: one API token holding `secret`.
fn entries(secret: &str) -> Vec<u8> {
    let credential = Credential::ApiToken {
        token: SecretString::from(secret.to_string()),
    };
    serde_json::to_vec(&[WireEntry {
        reference: reference(),
        credential: WireCredential::from(&credential),
    }])
    .expect("entries serialize")
}

fn passphrase_file(passphrase: &str, secret: &str) -> Vec<u8> {
    let source = KeySource::Passphrase {
        m_cost_kib: TINY.m_cost_kib,
        t_cost: TINY.t_cost,
        p_cost: TINY.p_cost,
        salt: [3; 16],
    };
    let key = derive(&source, FileKey::passphrase(passphrase)).expect("a key");
    format::seal(&source, &key, &entries(secret)).expect("sealed")
}

fn key_file(key: [u8; 32], secret: &str) -> Vec<u8> {
    format::seal(&KeySource::Key, &key, &entries(secret)).expect("sealed")
}

fn raw_key(key: [u8; 32]) -> FileKey {
    FileKey::Key(SecretBox::new(Box::new(key)))
}

/// `bytes` opened as a credential file with `key`: the secret it holds, or why not.
fn open(bytes: &[u8], key: FileKey) -> Result<String, FileError> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("credentials.ucp");
    std::fs::write(&path, bytes).expect("written");
    let (_, _, entries) = load(&path, key, TINY)?;
    match entries.get(&reference()) {
        Some(Credential::ApiToken { token }) => Ok(token.expose_secret().to_string()),
        other => panic!("unexpected entries: {other:?}"),
    }
}

/// The checksum recomputed after an edit, as a careful attacker would.
fn fix_checksum(bytes: &mut [u8]) {
    let end = bytes.len() - DIGEST_LEN;
    let digest = Sha256::digest(&bytes[..end]);
    bytes[end..].copy_from_slice(&digest);
}

fn flip(bytes: &mut [u8], flips: &[(Index, u8)]) {
    for (at, bit) in flips {
        let at = at.index(bytes.len());
        bytes[at] ^= 1 << bit;
    }
}

/// Fails the case if `error` shows any of `secrets` in any form a person could read.
fn assert_no_secret(error: &FileError, secrets: &[&str]) {
    let mut scanner = LeakScanner::new();
    for (i, secret) in secrets.iter().enumerate() {
        scanner.secret(format!("secret #{i}"), secret);
    }
    scanner.scan_display("error", error);
    scanner.scan_debug("error", error);
    let wrapped = CredentialError::File {
        path: PathBuf::from("credentials.ucp"),
        error: error.clone(),
    };
    scanner.scan_display("wrapped error", &wrapped);
    scanner.scan_debug("wrapped error", &wrapped);
    scanner.assert_clean();
}

/// What the header and checksum checks may answer before any key is tried.
fn refused_unopened(error: &FileError) -> bool {
    matches!(
        error,
        FileError::NotACredentialFile
            | FileError::Truncated { .. }
            | FileError::UnsupportedVersion { .. }
            | FileError::Corrupted { .. }
    )
}

fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{16,32}"
}

fn key() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_bytes_are_refused_before_a_key_is_tried(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..300),
            vec(any::<u8>(), 0..300).prop_map(|tail| [MAGIC, tail.as_slice()].concat()),
            (any::<u8>(), vec(any::<u8>(), 0..300))
                .prop_map(|(source, tail)| [MAGIC, &[1, source][..], tail.as_slice()].concat()),
        ],
        passphrase in secret(),
    ) {
        let error = open(&bytes, FileKey::passphrase(passphrase.as_str())).unwrap_err();
        prop_assert!(refused_unopened(&error), "{error:?}");
        assert_no_secret(&error, &[&passphrase]);
    }

    #[test]
    fn every_truncation_is_truncated(cut in any::<Index>(), passphrase in secret(), token in secret()) {
        let file = passphrase_file(&passphrase, &token);
        let cut = cut.index(file.len());
        let error = open(&file[..cut], FileKey::passphrase(passphrase.as_str())).unwrap_err();
        match &error {
            FileError::Truncated { actual, expected } => {
                prop_assert_eq!(*actual, cut as u64);
                prop_assert!(*expected > *actual);
                if cut >= HEADER_LEN {
                    prop_assert_eq!(*expected, file.len() as u64);
                }
            }
            other => prop_assert!(false, "cut at {cut}: {other:?}"),
        }
        assert_no_secret(&error, &[&passphrase, &token]);
    }

    #[test]
    fn flipped_bits_are_refused_before_a_key_is_tried(
        flips in vec((any::<Index>(), 0u8..8), 1..5),
        passphrase in secret(),
        token in secret(),
    ) {
        let file = passphrase_file(&passphrase, &token);
        let mut damaged = file.clone();
        flip(&mut damaged, &flips);
        prop_assume!(damaged != file);
        let error = open(&damaged, FileKey::passphrase(passphrase.as_str())).unwrap_err();
        prop_assert!(refused_unopened(&error), "{error:?}");
        assert_no_secret(&error, &[&passphrase, &token]);
    }

    #[test]
    fn an_edit_that_keeps_the_checksum_fails_the_check_its_region_promises(
        at in any::<Index>(),
        bit in 0u8..8,
        key in key(),
        token in secret(),
    ) {
        let mut file = key_file(key, &token);
        let payload_end = file.len() - DIGEST_LEN;
        // The checksum itself is not an edit target here: changing it is a flipped bit.
        let at = at.index(payload_end);
        file[at] ^= 1 << bit;
        fix_checksum(&mut file);
        let error = open(&file, raw_key(key)).unwrap_err();
        let expected = match at {
            0..=7 => matches!(error, FileError::NotACredentialFile),
            8 => matches!(error, FileError::UnsupportedVersion { .. }),
            9 => matches!(error, FileError::Corrupted { .. }),
            // Costs and salt (zero for a key), key-check nonce and tag: the key check.
            10..=77 => matches!(error, FileError::WrongKey),
            78..=101 => matches!(error, FileError::Tampered),
            102..=109 => matches!(error, FileError::Truncated { .. } | FileError::Corrupted { .. }),
            _ => matches!(error, FileError::Tampered),
        };
        prop_assert!(expected, "edit at byte {at}: {error:?}");
        assert_no_secret(&error, &[&token]);
    }

    #[test]
    fn several_edits_that_keep_the_checksum_never_open(
        flips in vec((any::<Index>(), 0u8..8), 1..6),
        key in key(),
        token in secret(),
    ) {
        let file = key_file(key, &token);
        let mut edited = file.clone();
        let body_len = edited.len() - DIGEST_LEN;
        flip(&mut edited[..body_len], &flips);
        prop_assume!(edited != file);
        fix_checksum(&mut edited);
        let error = open(&edited, raw_key(key)).unwrap_err();
        assert_no_secret(&error, &[&token]);
    }

    #[test]
    fn only_the_right_passphrase_opens_and_no_error_shows_either(
        passphrase in secret(),
        other in secret(),
        token in secret(),
    ) {
        prop_assume!(other != passphrase);
        let file = passphrase_file(&passphrase, &token);
        prop_assert_eq!(open(&file, FileKey::passphrase(passphrase.as_str())).unwrap(), token.clone());
        let wrong = open(&file, FileKey::passphrase(other.as_str())).unwrap_err();
        prop_assert_eq!(&wrong, &FileError::WrongKey);
        let kind = open(&file, raw_key([7; 32])).unwrap_err();
        prop_assert!(matches!(kind, FileError::KeyKindMismatch { .. }), "{kind:?}");
        for error in [&wrong, &kind] {
            assert_no_secret(error, &[&passphrase, &other, &token]);
        }
    }

    #[test]
    fn only_the_right_key_opens(key in key(), other in key(), token in secret(), passphrase in secret()) {
        prop_assume!(other != key);
        let file = key_file(key, &token);
        prop_assert_eq!(open(&file, raw_key(key)).unwrap(), token.clone());
        prop_assert_eq!(open(&file, raw_key(other)).unwrap_err(), FileError::WrongKey);
        let kind = open(&file, FileKey::passphrase(passphrase.as_str())).unwrap_err();
        prop_assert!(matches!(kind, FileError::KeyKindMismatch { .. }), "{kind:?}");
        assert_no_secret(&kind, &[&passphrase, &token]);
    }
}
