//! A blocking PostgreSQL client over `tokio-postgres`, as the `postgres` crate's, with
//! one difference that crate cannot give: the whole connection — socket, TLS,
//! start-up and login — is bounded by `connect_timeout`, as libpq bounds it. The
//! `postgres` crate bounds only the socket's connect, so a server that accepts the
//! connection and then says nothing (a hung server, a tunnel whose far end is gone)
//! held rolecall forever.
//!
//! Each client owns a current-thread runtime; the connection's task runs while a call
//! waits on it, as in the `postgres` crate.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{BorrowToSql, ToSql, Type};
use tokio_postgres::{Config, Error, Row, Socket};

/// How long a closing client waits for the server to take its goodbye.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Why a connection was not made.
pub(crate) enum ConnectError {
    /// The server or the driver said why.
    Pg(Error),
    /// Nothing complete came back within the time allowed.
    TimedOut(Duration),
    /// The runtime could not be made (out of threads or file descriptors).
    Io(std::io::Error),
}

pub(crate) struct Client {
    runtime: Runtime,
    /// `None` only while dropping.
    client: Option<tokio_postgres::Client>,
    connection: Option<tokio::task::JoinHandle<()>>,
}

impl Client {
    /// Connects with `config` within `limit`, everything included.
    pub(crate) fn connect<T>(
        config: &Config,
        tls: T,
        limit: Duration,
    ) -> Result<Client, ConnectError>
    where
        T: MakeTlsConnect<Socket> + 'static + Send,
        T::TlsConnect: Send,
        T::Stream: Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ConnectError::Io)?;
        let (client, connection) = runtime
            .block_on(async { tokio::time::timeout(limit, config.connect(tls)).await })
            .map_err(|_| ConnectError::TimedOut(limit))?
            .map_err(ConnectError::Pg)?;
        let connection = runtime.spawn(async move {
            // Its end (closed by either side) shows as `is_closed`; the next call's
            // error says why.
            let _ = connection.await;
        });
        Ok(Client {
            runtime,
            client: Some(client),
            connection: Some(connection),
        })
    }

    fn inner(&self) -> &tokio_postgres::Client {
        self.client.as_ref().expect("present until dropped")
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// True once the connection has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.inner().is_closed()
    }

    /// Runs statements separated by `;`, without parameters.
    pub(crate) fn batch_execute(&mut self, sql: &str) -> Result<(), Error> {
        self.block_on(self.inner().batch_execute(sql))
    }

    /// The rows of `sql`, its parameters' types given (no named prepared statement).
    pub(crate) fn query_typed(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, Error> {
        self.block_on(self.inner().query_typed(sql, params))
    }

    /// Runs `sql` as [`Client::query_typed`] does and returns the rows it changed,
    /// reading (and dropping) any it returns.
    pub(crate) fn execute_typed<P, I>(&mut self, sql: &str, params: I) -> Result<u64, Error>
    where
        P: BorrowToSql,
        I: IntoIterator<Item = (P, Type)>,
    {
        use futures_util::TryStreamExt;
        self.block_on(async {
            let rows = self.inner().query_typed_raw(sql, params).await?;
            let mut rows = std::pin::pin!(rows);
            while rows.try_next().await?.is_some() {}
            Ok(rows.rows_affected().unwrap_or(0))
        })
    }
}

impl Drop for Client {
    /// Says goodbye to the server (the connection sends `Terminate` once its client
    /// is gone), so its log shows a client that left, not one that vanished.
    fn drop(&mut self) {
        drop(self.client.take());
        if let Some(connection) = self.connection.take() {
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(CLOSE_WAIT, connection).await });
        }
    }
}
