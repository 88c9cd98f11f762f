//! `rediss://` against a real `redis-server` speaking TLS only, with a password in the URL:
//! the shared token cache works through it, and a server whose certificate is not trusted,
//! a wrong password, or a root certificate given for a plain URL are refused with a
//! typed error that never repeats the password.

use std::sync::Arc;
use std::time::Duration;

use lark_oapi_core::{Client, Config, Domain, Method};
use lark_oapi_mock::{APP_ID, APP_SECRET, MockPlatform, RedisServer};
use lark_oapi_redis::{RedisStore, RedisTokenCache, StoreError};

const TENANT_TOKEN_PATH: &str = "/open-apis/auth/v3/tenant_access_token/internal";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_shared_over_tls_with_a_password_from_the_url() {
    let redis = RedisServer::start_tls(Some("s3cret-pw"));
    assert!(redis.url().starts_with("rediss://:s3cret-pw@localhost:"));
    let mock = MockPlatform::start().await.unwrap();
    let client = |store: RedisStore| {
        let config = Config::builder(APP_ID, APP_SECRET)
            .domain(Domain::custom(mock.base_url()))
            .token_cache(Arc::new(RedisTokenCache::new(store)))
            .build()
            .unwrap();
        Client::new(config)
    };
    let connect = || {
        RedisStore::builder(redis.url())
            .prefix("tls")
            .root_certificate_pem(RedisServer::ca_pem())
            .connect()
    };
    let (a, b) = (connect().await.unwrap(), connect().await.unwrap());
    assert!(!format!("{a:?}").contains("s3cret-pw"), "{a:?}");
    for store in [a, b] {
        client(store)
            .request(Method::GET, "/open-apis/echo/v1/ping")
            .send_value()
            .await
            .unwrap();
    }
    assert_eq!(
        mock.requests_to(TENANT_TOKEN_PATH).len(),
        1,
        "the second process read the token the first stored over TLS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificates_wrong_passwords_and_misplaced_roots_are_refused() {
    let redis = RedisServer::start_tls(Some("s3cret-pw"));
    let quick = |url: String| RedisStore::builder(url).connect_timeout(Duration::from_secs(3));
    // The system's roots do not include the test CA.
    let err = quick(redis.url()).connect().await.unwrap_err();
    assert!(
        matches!(err, StoreError::Redis(_) | StoreError::Timeout(_)),
        "{err:?}"
    );
    assert!(!err.to_string().contains("s3cret-pw"), "{err}");
    // Trusted, but the wrong password.
    let wrong = redis.url().replace("s3cret-pw", "guess");
    let err = quick(wrong)
        .root_certificate_pem(RedisServer::ca_pem())
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Redis(_)), "{err:?}");
    // A root certificate for a plain URL is a mistake, said before any I/O.
    let err = quick("redis://127.0.0.1:1/0".into())
        .root_certificate_pem(RedisServer::ca_pem())
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Url(why) if why.contains("not rediss://")),
        "{err:?}"
    );
    // Plain Redis on a TLS port does not pass for a connection.
    let plain = format!("redis://:s3cret-pw@127.0.0.1:{}/0", redis.port());
    assert!(quick(plain).connect().await.is_err());
}
