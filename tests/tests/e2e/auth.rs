use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};
use todo_tests::{TEST_SECRET, TestApp};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn token(secret: &str, alg: Algorithm, sub: &str, iss: &str, exp: u64) -> String {
    let claims = json!({"sub": sub, "iss": iss, "iat": now() - 10, "exp": exp, "jti": uuid::Uuid::new_v4(), "ver": 0});
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    app.http
        .get(app.url("/api/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me")
        .status()
}

#[tokio::test]
async fn signup_creates_a_user_without_exposing_the_hash_and_rejects_duplicates() {
    let app = TestApp::spawn_with(todo_tests::TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;

    let res = app.signup("Ada@Example.com", "correct horse").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["email"], "Ada@Example.com");
    assert!(body["id"].is_string());
    assert!(body.get("password_hash").is_none() && body.get("password").is_none());

    let dup = app.signup("ada@example.COM", "another password").await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    let err: Value = dup.json().await.expect("json");
    assert_eq!(err["error"]["code"], "email_taken");
    app.shutdown().await;
}

#[tokio::test]
async fn signup_validates_email_and_password_length() {
    let app = TestApp::spawn_with(todo_tests::TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    for (email, password, code) in [
        ("not-an-email", "long enough", "invalid_email"),
        ("a@example.com", "short", "password_too_short"),
        ("b@example.com", &"x".repeat(73), "password_too_long"),
        // 19 four-byte emoji are 76 bytes: bcrypt would read only the first 72
        ("d@example.com", &"🔑".repeat(19), "password_too_long"),
        ("e@example.com", "nul\0password", "password_invalid"),
    ] {
        let res = app.signup(email, password).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{code}");
        let err: Value = res.json().await.expect("json");
        assert_eq!(err["error"]["code"], code);
    }
    assert_eq!(
        app.signup("c@example.com", &"y".repeat(72)).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.login("c@example.com", &"y".repeat(72)).await.status(),
        StatusCode::OK
    );
    // bcrypt reads 72 bytes; a password differing only after them must not log in
    assert_eq!(
        app.login("c@example.com", &format!("{}z", "y".repeat(127)))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.shutdown().await;
}

#[tokio::test]
async fn login_returns_a_bearer_token_and_wrong_credentials_look_the_same() {
    let app = TestApp::spawn_with(todo_tests::TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    app.signup("bob@example.com", "hunter2hunter2").await;

    let ok = app.login("BOB@example.com", "hunter2hunter2").await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.expect("json");
    assert_eq!(body["token_type"], "bearer");
    assert!(body["expires_in"].as_u64().expect("expires_in") > 0);
    assert_eq!(body["user"]["email"], "bob@example.com");
    let token = body["access_token"].as_str().expect("token");
    assert_eq!(me_status(&app, token).await, StatusCode::OK);

    let wrong_password = app.login("bob@example.com", "wrong password").await;
    let unknown_email = app.login("nobody@example.com", "hunter2hunter2").await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status(), StatusCode::UNAUTHORIZED);
    let a: Value = wrong_password.json().await.expect("json");
    let b: Value = unknown_email.json().await.expect("json");
    assert_eq!(a, b, "both failures give the same body");
    app.shutdown().await;
}

#[tokio::test]
async fn jwt_attacks_are_rejected_with_401() {
    let app = TestApp::spawn_with(todo_tests::TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let user = app.user().await;
    let sub = user.id.to_string();
    let iss = app.config.auth.jwt_issuer.clone();

    let valid = token(TEST_SECRET, Algorithm::HS256, &sub, &iss, now() + 600);
    assert_eq!(me_status(&app, &valid).await, StatusCode::OK);

    let expired = token(TEST_SECRET, Algorithm::HS256, &sub, &iss, now() - 3600);
    let wrong_issuer = token(
        TEST_SECRET,
        Algorithm::HS256,
        &sub,
        "someone-else",
        now() + 600,
    );
    let wrong_key = token(
        "another-secret-that-is-also-32-chars-long!!",
        Algorithm::HS256,
        &sub,
        &iss,
        now() + 600,
    );
    let other_alg = token(TEST_SECRET, Algorithm::HS512, &sub, &iss, now() + 600);
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    let mut sig_chars: Vec<char> = parts[2].chars().collect();
    sig_chars[5] = if sig_chars[5] == 'A' { 'B' } else { 'A' };
    parts[2] = sig_chars.into_iter().collect();
    let tampered_sig = parts.join(".");
    // alg: none with the valid claims and no signature
    let none_header = base64url(r#"{"alg":"none","typ":"JWT"}"#);
    let claims = valid.split('.').nth(1).expect("claims");
    let alg_none = format!("{none_header}.{claims}.");
    // claims changed to another user, original signature kept
    let forged_claims = base64url(
        &json!({"sub": uuid::Uuid::new_v4(), "iss": iss, "iat": now(), "exp": now() + 600})
            .to_string(),
    );
    let sig = valid.split('.').nth(2).expect("sig");
    let header = valid.split('.').next().expect("header");
    let tampered_claims = format!("{header}.{forged_claims}.{sig}");

    for (name, t) in [
        ("expired", expired),
        ("wrong issuer", wrong_issuer),
        ("wrong key", wrong_key),
        ("HS512", other_alg),
        ("tampered signature", tampered_sig),
        ("alg none", alg_none),
        ("tampered claims", tampered_claims),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        assert_eq!(
            me_status(&app, &t).await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
    }
    let no_token = app
        .http
        .get(app.url("/api/auth/me"))
        .send()
        .await
        .expect("me");
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    let err: Value = no_token.json().await.expect("json");
    assert_eq!(err["error"]["code"], "unauthorized");
    app.shutdown().await;
}

fn base64url(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
