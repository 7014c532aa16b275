//! A blocking PostgreSQL client over `tokio-postgres`, as the `postgres` crate's, with
//! one difference that crate cannot give: the whole connection — socket, TLS,
//! start-up and login — is bounded by `connect_timeout`, as libpq bounds it. The
//! `postgres` crate bounds only the socket's connect, so a server that accepts the
//! connection and then says nothing (a hung server, a tunnel whose far end is gone)
//! held rolecall forever.
//!
//! Each client owns a current-thread runtime, and the connection is polled together
//! with each call while the call waits, as in the `postgres` crate. Running it as a
//! task of its own made `check` 0.6–1.0 ms slower than the `postgres` crate; polled
//! this way it is 0.1–0.5 ms slower, with the same instruction count and about 40
//! more page faults (BENCHMARKS.md, "A seventh session").

use std::future::{Future, poll_fn};
use std::net::IpAddr;
use std::pin::Pin;
use std::task::Poll;
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
    /// The host's name could not be looked up.
    Lookup(std::io::Error),
}

/// The addresses of `host` (a name or an address), looked up within `limit`. A lookup
/// that does not end in time is left behind, not waited for.
pub(crate) fn resolve(host: &str, port: u16, limit: Duration) -> Result<Vec<IpAddr>, ConnectError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ConnectError::Io)?;
    let found = runtime.block_on(async {
        tokio::time::timeout(limit, tokio::net::lookup_host((host, port))).await
    });
    // The lookup runs on a thread of the runtime's; dropping the runtime would wait
    // for it.
    runtime.shutdown_background();
    let mut ips: Vec<IpAddr> = Vec::new();
    for addr in found
        .map_err(|_| ConnectError::TimedOut(limit))?
        .map_err(ConnectError::Lookup)?
    {
        if !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
    }
    Ok(ips)
}

/// The connection's side: reads, writes, and ends when either side closes.
type Connection = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

pub(crate) struct Client {
    runtime: Runtime,
    /// `None` only while dropping.
    client: Option<tokio_postgres::Client>,
    /// `None` once it has ended; its end shows as `is_closed`, and the next call's
    /// error says why.
    connection: Option<Connection>,
}

impl Client {
    /// Connects with `config` within `limit`, everything included. The caller gives
    /// one address (`hostaddr`, or a Unix socket): libpq's timeout is for each
    /// address a name has, and tokio-postgres, given a name, would share one between
    /// them.
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
        let connected =
            runtime.block_on(async { tokio::time::timeout(limit, config.connect(tls)).await });
        let (client, connection) = match connected {
            Ok(made) => made.map_err(ConnectError::Pg)?,
            Err(_) => {
                // Nothing of it may be waited for now (a name lookup on a thread).
                runtime.shutdown_background();
                return Err(ConnectError::TimedOut(limit));
            }
        };
        Ok(Client {
            runtime,
            client: Some(client),
            connection: Some(Box::pin(connection)),
        })
    }

    fn inner(&self) -> &tokio_postgres::Client {
        self.client.as_ref().expect("present until dropped")
    }

    /// Runs `future` to its end, driving the connection meanwhile: both wake the
    /// same waiter, so a request `future` queues is written at once. When the
    /// connection ends in an error (the server shut down, the backend was ended),
    /// that error is the call's, as it says more than "connection closed".
    fn block_on<T>(
        runtime: &Runtime,
        connection: &mut Option<Connection>,
        future: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let mut future = std::pin::pin!(future);
        runtime.block_on(poll_fn(|cx| {
            if let Some(c) = connection {
                match c.as_mut().poll(cx) {
                    Poll::Ready(Err(e)) => {
                        *connection = None;
                        return Poll::Ready(Err(e));
                    }
                    Poll::Ready(Ok(())) => *connection = None,
                    Poll::Pending => {}
                }
            }
            future.as_mut().poll(cx)
        }))
    }

    /// True once the connection has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.inner().is_closed()
    }

    /// Runs statements separated by `;`, without parameters.
    pub(crate) fn batch_execute(&mut self, sql: &str) -> Result<(), Error> {
        let client = self.client.as_ref().expect("present until dropped");
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            client.batch_execute(sql),
        )
    }

    /// The rows of `sql`, its parameters' types given (no named prepared statement).
    pub(crate) fn query_typed(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, Error> {
        let client = self.client.as_ref().expect("present until dropped");
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            client.query_typed(sql, params),
        )
    }

    /// Runs `sql` as [`Client::query_typed`] does and returns the rows it changed,
    /// reading (and dropping) any it returns.
    pub(crate) fn execute_typed<P, I>(&mut self, sql: &str, params: I) -> Result<u64, Error>
    where
        P: BorrowToSql,
        I: IntoIterator<Item = (P, Type)>,
    {
        use futures_util::TryStreamExt;
        let client = self.client.as_ref().expect("present until dropped");
        Self::block_on(&self.runtime, &mut self.connection, async {
            let rows = client.query_typed_raw(sql, params).await?;
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
        if let Some(mut connection) = self.connection.take() {
            // The timer is made inside the runtime, which it needs.
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(CLOSE_WAIT, connection.as_mut()).await });
        }
    }
}
