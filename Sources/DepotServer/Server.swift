import CoreMetrics
import DepotCore
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// `depot serve`: `public/` for apt, the JSON API, the dashboard and `/healthz` on one port.
public struct Server: Sendable {
    public var host: String
    public var port: Int
    /// The largest `.deb` the API accepts, in bytes.
    public var maximumUploadSize: Int

    public var connectionLimits: ConnectionLimits
    /// What `GET /metrics` reports; nil: no `/metrics` (`--no-metrics`).
    public var metrics: ServerMetrics?

    public init(
        host: String = "127.0.0.1", port: Int = 8080, maximumUploadSize: Int = 2 << 30,
        connectionLimits: ConnectionLimits = .standard(), metrics: ServerMetrics? = ServerMetrics()
    ) {
        self.host = host
        self.port = port
        self.maximumUploadSize = maximumUploadSize
        self.connectionLimits = connectionLimits
        self.metrics = metrics
    }

    /// Serves until SIGTERM or SIGINT, then finishes the requests under way and returns.
    /// `onListening` is told the address once the port is open (its port, when 0 was asked).
    public func run(repository: Repository, onListening: @escaping @Sendable (String) -> Void) async throws {
        let app = try makeApplication(repository: repository, onListening: onListening)
        do {
            try await app.runService()
        } catch let error as IOError where [EADDRINUSE, EADDRNOTAVAIL, EACCES].contains(error.errnoCode) {
            throw DepotError.invalidArgument(
                "cannot listen on \(host):\(port): \(String(cString: strerror(error.errnoCode))); "
                    + "stop what uses that address or choose another with --listen HOST:PORT")
        }
    }

    /// The server `run` runs: the router behind the channel that answers `public/` itself,
    /// keeps each connection to its limits and logs every request.
    func makeApplication(repository: Repository, onListening: @escaping @Sendable (String) -> Void) throws
        -> some ApplicationProtocol
    {
        let logger = RequestLog(
            logger: Logger(label: "depot.serve", factory: LineLogHandler.init), metrics: metrics)
        let files = try repository.treeRedirectBase.map(StaticFiles.init(redirectingTo:))
            ?? StaticFiles(publicDirectory: repository.publicDirectory)
        let connections = ConnectionTracker(limits: connectionLimits)
        let router = makeRouter(repository: repository, files: files, connections: connections, logger: logger)
        return Application(
            router: router,
            server: HTTPServerBuilder { responder in
                HTTP1ChannelWithStaticFiles(
                    responder: responder, files: files, accessLogger: logger, connections: connections)
            },
            configuration: .init(address: .hostname(host, port: port), serverName: "Depot"),
            onServerRunning: { channel in
                onListening(
                    channel.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? port)" } ?? "\(host):\(port)")
            },
            logger: logger.logger)
    }

    func makeRouter(repository: Repository, files: StaticFiles, connections: ConnectionTracker, logger: RequestLog)
        -> Router<DepotRequestContext>
    {
        let router = Router(context: DepotRequestContext.self)
        router.add(middleware: AccessLog(log: logger))
        router.get("healthz") { _, _ in "ok\n" }
        router.head("healthz") { _, _ in "ok\n" }
        if let metrics {
            router.get("metrics") { _, _ in
                let text = try await onDispatchThread { try metrics.scrape(repository) }
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: text)))
            }
        }
        DashboardRoutes(repository: repository, connections: connections).register(on: router)
        API(repository: repository, maximumUploadSize: maximumUploadSize, connections: connections).register(on: router)
        for path: RouterPath in ["dists/**", "pool/**", "archive-key.asc"] {
            router.get(path) { request, context in try await files.respond(to: request, context: context) }
            router.head(path) { request, context in try await files.respond(to: request, context: context) }
        }
        return router
    }
}

/// One line per request: method, path, status, bytes and time. Never headers, so never a
/// token.
struct AccessLog<Context: RequestContext>: RouterMiddleware {
    let log: RequestLog

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, status: response.status.code, length: response.headers[.contentLength], since: start)
            return response
        } catch {
            log(request, status: (error as? any HTTPResponseError)?.status.code ?? 500, length: nil, since: start)
            if let detail = (error as? APIError)?.serverDetail {
                log.logger.error("\(request.method) \(request.uri.path): \(detail)")
            }
            throw error
        }
    }

    private func log(_ request: Request, status: Int, length: String?, since start: ContinuousClock.Instant) {
        log.write(method: request.method.rawValue, path: request.uri.path, status: status, length: length, since: start)
    }
}

/// The series of `depot_http_requests_total` a connection counted its last answer in.
struct RequestCounter {
    var status = 0
    var series: CoreMetrics.Counter?
}

/// Where each answered request is told, by the middleware and `StaticFileHandler` alike: the
/// access log's line, and the count by status of `/metrics`.
struct RequestLog: Sendable {
    let logger: Logger
    let metrics: ServerMetrics?

    func write(method: String, path: String, status: Int, length: String?, since start: ContinuousClock.Instant) {
        var counter = RequestCounter()
        write(method: method, path: path, status: status, length: length, since: start, counting: &counter)
    }

    /// `write`, counting the answer through `counter`, which a connection keeps: its answers
    /// mostly share a status, and then no lock is taken to find the series.
    func write(
        method: String, path: String, status: Int, length: String?, since start: ContinuousClock.Instant,
        counting counter: inout RequestCounter
    ) {
        if let metrics {
            if counter.status != status || counter.series == nil {
                counter = RequestCounter(status: status, series: metrics.requestCounter(status: status))
            }
            counter.series?.increment()
        }
        let elapsed = ContinuousClock.now - start
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        logger.info("\(method) \(path) \(status) \(length ?? "-") \(microseconds)µs")
    }
}

/// Hummingbird's HTTP/1 channel with `StaticFileHandler` ahead of the conversion to
/// Hummingbird's request types.
struct HTTP1ChannelWithStaticFiles: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: HTTPChannelHandler.Responder
    let files: StaticFiles
    let accessLogger: RequestLog
    let connections: ConnectionTracker

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            guard connections.admit(channel) else { throw ChannelError.inputClosed }
            let pipeline = channel.pipeline.syncOperations
            // As Hummingbird's HTTP1Channel sets it up.
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false)
            try pipeline.addHandler(StaticFileHandler(files: files, log: accessLogger, connections: connections))
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
            return try NIOAsyncChannel(
                wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}
