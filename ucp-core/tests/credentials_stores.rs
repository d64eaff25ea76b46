//! The three credential stores: memory, environment, encrypted file.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretBox, SecretString};
use ucp_core::credentials::{
    Credential, CredentialError, CredentialRef, CredentialStore, EnvCredentials, FileCredentials,
    FileError, FileKey, JwtAlgorithm, KdfParams, MemoryCredentials, TenantCredentials,
};

/// Cheap Argon2id cost so tests stay fast; real files use the default.
const FAST: KdfParams = KdfParams {
    m_cost_kib: 64,
    t_cost: 1,
    p_cost: 1,
};

fn api_token(value: &str) -> Credential {
    Credential::ApiToken {
        token: SecretString::from(value.to_string()),
    }
}

fn token_of(credential: &Credential) -> String {
    match credential {
        Credential::ApiToken { token } => token.expose_secret().to_string(),
        other => panic!("expected an api token, got a {}", other.kind()),
    }
}

fn file_error(result: Result<FileCredentials, CredentialError>) -> FileError {
    match result {
        Err(CredentialError::File { error, .. }) => error,
        Err(other) => panic!("expected a file error, got {other}"),
        Ok(_) => panic!("expected the file to be refused"),
    }
}

#[tokio::test]
async fn a_tenant_view_refuses_another_tenants_credential() {
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(CredentialRef::new("contoso", "okta"), api_token("a"))
        .await
        .unwrap();
    store
        .put(CredentialRef::new("fabrikam", "okta"), api_token("b"))
        .await
        .unwrap();
    let contoso = TenantCredentials::new("contoso", store.clone());
    assert_eq!(token_of(&contoso.get_named("okta").await.unwrap()), "a");
    let refused = contoso
        .get(&CredentialRef::new("fabrikam", "okta"))
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        CredentialError::CrossTenant {
            requester: "contoso".into(),
            reference: CredentialRef::new("fabrikam", "okta"),
        }
    );
    assert!(refused.to_string().contains("fabrikam/okta"));
    assert_eq!(
        store.list(Some("contoso")).await.unwrap(),
        vec![CredentialRef::new("contoso", "okta")]
    );
}

#[tokio::test]
async fn env_store_names_every_missing_variable() {
    let store = EnvCredentials::from_vars([
        ("UCP_CRED__CONTOSO__OKTA_PROD__KIND", "private_key_jwt"),
        ("UCP_CRED__CONTOSO__OKTA_PROD__CLIENT_ID", "0oa1"),
    ]);
    let error = store
        .get(&CredentialRef::new("contoso", "okta-prod"))
        .await
        .unwrap_err();
    match &error {
        CredentialError::MissingVariables { variables, .. } => assert_eq!(
            variables,
            &vec![
                "UCP_CRED__CONTOSO__OKTA_PROD__TOKEN_URL".to_string(),
                "UCP_CRED__CONTOSO__OKTA_PROD__PRIVATE_KEY".to_string(),
            ]
        ),
        other => panic!("unexpected error {other}"),
    }
    let message = error.to_string();
    assert!(message.contains("UCP_CRED__CONTOSO__OKTA_PROD__TOKEN_URL"));
    assert!(message.contains("contoso/okta-prod"));

    let absent = store
        .get(&CredentialRef::new("contoso", "entra"))
        .await
        .unwrap_err();
    assert!(absent
        .to_string()
        .contains("UCP_CRED__CONTOSO__ENTRA__KIND"));
}

#[tokio::test]
async fn env_store_reads_a_private_key_client_and_refuses_writes() {
    let store = EnvCredentials::from_vars([
        ("UCP_CRED__CONTOSO__OKTA__KIND", "private_key_jwt"),
        (
            "UCP_CRED__CONTOSO__OKTA__TOKEN_URL",
            "https://contoso.okta.example/oauth2/v1/token",
        ),
        ("UCP_CRED__CONTOSO__OKTA__CLIENT_ID", "0oa1"),
        (
            "UCP_CRED__CONTOSO__OKTA__PRIVATE_KEY",
            "-----BEGIN PRIVATE KEY-----",
        ),
        ("UCP_CRED__CONTOSO__OKTA__KEY_ID", "kid-1"),
        ("UCP_CRED__CONTOSO__OKTA__ALGORITHM", "es256"),
    ]);
    let reference = CredentialRef::new("contoso", "okta");
    match store.get(&reference).await.unwrap() {
        Credential::PrivateKeyJwt {
            client_id,
            key_id,
            algorithm,
            ..
        } => {
            assert_eq!(client_id, "0oa1");
            assert_eq!(key_id.as_deref(), Some("kid-1"));
            assert_eq!(algorithm, JwtAlgorithm::ES256);
        }
        other => panic!("unexpected kind {}", other.kind()),
    }
    assert!(matches!(
        store.put(reference.clone(), api_token("x")).await,
        Err(CredentialError::ReadOnly { .. })
    ));
    let bad = EnvCredentials::from_vars([("UCP_CRED__CONTOSO__OKTA__KIND", "kerberos")]);
    assert!(matches!(
        bad.get(&reference).await,
        Err(CredentialError::InvalidVariable { .. })
    ));
}

#[tokio::test]
async fn file_store_round_trips_with_a_passphrase_and_keeps_secrets_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.ucp");
    let reference = CredentialRef::new("contoso", "okta");
    {
        let store =
            FileCredentials::open_with_params(&path, FileKey::passphrase("correct horse"), FAST)
                .await
                .unwrap();
        store
            .put(reference.clone(), api_token("super-secret-token-value"))
            .await
            .unwrap();
        store
            .put(
                CredentialRef::new("contoso", "entra"),
                Credential::ClientSecret {
                    token_url: "https://login.example/t/oauth2/v2.0/token".into(),
                    client_id: "app".into(),
                    secret: SecretString::from("entra-client-secret".to_string()),
                },
            )
            .await
            .unwrap();
        assert!(store
            .remove(&CredentialRef::new("contoso", "entra"))
            .await
            .unwrap());
    }
    let bytes = std::fs::read(&path).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("super-secret-token-value"));
    assert!(!String::from_utf8_lossy(&bytes).contains("contoso"));
    // Only the file itself is left: the temporary files were renamed away.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let reopened = FileCredentials::open(&path, FileKey::passphrase("correct horse"))
        .await
        .unwrap();
    assert_eq!(
        token_of(&reopened.get(&reference).await.unwrap()),
        "super-secret-token-value"
    );
    assert_eq!(reopened.list(None).await.unwrap(), vec![reference]);
}

#[tokio::test]
async fn file_store_refuses_wrong_key_truncation_and_flipped_bytes_distinctly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.ucp");
    let key_path = dir.path().join("key");
    let key = FileKey::generate_key_file(&key_path).unwrap();
    let store = FileCredentials::open(&path, key).await.unwrap();
    store
        .put(CredentialRef::new("contoso", "okta"), api_token("t0ken"))
        .await
        .unwrap();
    let good = std::fs::read(&path).unwrap();

    let wrong = FileKey::Key(SecretBox::new(Box::new([9u8; 32])));
    assert_eq!(
        file_error(FileCredentials::open(&path, wrong).await),
        FileError::WrongKey
    );
    assert!(matches!(
        file_error(FileCredentials::open(&path, FileKey::passphrase("guess")).await),
        FileError::KeyKindMismatch { .. }
    ));

    std::fs::write(&path, &good[..good.len() - 10]).unwrap();
    assert!(matches!(
        file_error(FileCredentials::open(&path, FileKey::key_file(&key_path)).await),
        FileError::Truncated { .. }
    ));

    let mut flipped = good.clone();
    let middle = flipped.len() - 40;
    flipped[middle] ^= 0x80;
    std::fs::write(&path, &flipped).unwrap();
    let error = file_error(FileCredentials::open(&path, FileKey::key_file(&key_path)).await);
    assert!(matches!(error, FileError::Corrupted { .. }), "{error}");

    std::fs::write(&path, b"{\"json\": \"not ours\"}").unwrap();
    assert_eq!(
        file_error(FileCredentials::open(&path, FileKey::key_file(&key_path)).await),
        FileError::NotACredentialFile
    );

    // The untouched file still opens with the right key.
    std::fs::write(&path, &good).unwrap();
    let reopened = FileCredentials::open(&path, FileKey::key_file(&key_path))
        .await
        .unwrap();
    assert_eq!(
        token_of(
            &reopened
                .get(&CredentialRef::new("contoso", "okta"))
                .await
                .unwrap()
        ),
        "t0ken"
    );
}

#[tokio::test]
async fn wrong_passphrase_is_a_wrong_key_and_a_short_key_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.ucp");
    let store = FileCredentials::open_with_params(&path, FileKey::passphrase("right"), FAST)
        .await
        .unwrap();
    store
        .put(CredentialRef::new("t", "n"), api_token("v"))
        .await
        .unwrap();
    assert_eq!(
        file_error(FileCredentials::open(&path, FileKey::passphrase("wrong")).await),
        FileError::WrongKey
    );

    let short = dir.path().join("short-key");
    std::fs::write(&short, [1u8; 16]).unwrap();
    let error = file_error(
        FileCredentials::open(dir.path().join("other.ucp"), FileKey::key_file(&short)).await,
    );
    assert!(matches!(error, FileError::BadKeyFile { .. }));
    assert!(error.to_string().contains("16 bytes"));
}

#[tokio::test]
async fn put_rotates_a_secret_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.ucp");
    let key = FileKey::generate_key_file(dir.path().join("key")).unwrap();
    let store = FileCredentials::open(&path, key).await.unwrap();
    let reference = CredentialRef::new("contoso", "okta");
    store
        .put(reference.clone(), api_token("old"))
        .await
        .unwrap();
    store
        .put(reference.clone(), api_token("new"))
        .await
        .unwrap();
    assert_eq!(token_of(&store.get(&reference).await.unwrap()), "new");
    let reopened = FileCredentials::open(&path, FileKey::key_file(dir.path().join("key")))
        .await
        .unwrap();
    assert_eq!(token_of(&reopened.get(&reference).await.unwrap()), "new");
}
