//! Taking a test's own Postgres database away and giving it back, for the
//! tests of what the server does meanwhile: new connections are refused and
//! the open ones terminated, as when the server stops, while the other
//! tests' databases on the same server are untouched.

use sea_orm::{ConnectionTrait, DatabaseConnection};

pub struct Outage {
    admin: DatabaseConnection,
    name: String,
}

impl Outage {
    /// For the database at `url` (a test database on the Postgres server
    /// that `HOOKRELAY_TEST_DATABASE_URL` names).
    pub async fn of(url: &str) -> Self {
        let admin_url =
            super::postgres_url().expect("Postgres-only tests need HOOKRELAY_TEST_DATABASE_URL");
        let name = url
            .rsplit('/')
            .next()
            .and_then(|tail| tail.split('?').next())
            .expect("a database name in the URL")
            .to_owned();
        let admin = sea_orm::Database::connect(&admin_url)
            .await
            .expect("connect as admin");
        Self { admin, name }
    }

    /// Refuses new connections and terminates the open ones.
    pub async fn begin(&self) {
        self.allow_connections(false).await;
        self.admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                self.name
            ))
            .await
            .expect("terminate the database's connections");
    }

    /// Takes connections again.
    pub async fn end(&self) {
        self.allow_connections(true).await;
    }

    async fn allow_connections(&self, allow: bool) {
        self.admin
            .execute_unprepared(&format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS {allow}",
                self.name
            ))
            .await
            .expect("alter the database");
    }
}
