import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1

/// Answers GET and HEAD for files of `public/` right in the channel pipeline, ahead of
/// Hummingbird: apt's requests are nearly all of a server's traffic, and this way each costs an
/// HTTP parse, an `openat2` and a write (large files by `sendfile`), without a task, router or
/// response body stream. Everything else, and any path that is not a file (a 404), goes on to
/// Hummingbird's router.
///
/// Responses keep the order of requests: while a request passed on to Hummingbird has not
/// been answered, later ones are passed on too.
///
/// It also keeps each connection to its time limits, since it sees every request and every
/// answer: a request head must arrive whole within the request timeout of the connection
/// opening or of the previous answer being written, and a request body may not pause longer.
final class StaticFileHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let files: StaticFiles
    private let log: RequestLog
    /// The series this connection counted its last answer in.
    private var requestCounter = RequestCounter()
    private let connections: ConnectionTracker

    private enum Phase {
        case waitingForHead
        case readingBody
        case answering
    }
    private var phase = Phase.waitingForHead
    /// Answers started and not yet written out: this handler's, and Hummingbird's.
    private var answersUnwritten = 0
    /// Closes the connection when the client keeps it waiting too long.
    private var deadline: Scheduled<Void>?
    /// Requests passed on whose responses have not ended yet.
    private var passedOnInFlight = 0
    /// Whether the parts of the request being read go on to Hummingbird.
    private var passingOn = false
    /// Whether this read answered something that still needs a flush.
    private var unflushed = false

    /// The HTTP encoder's context: writes made from it go straight to the socket.
    private var encoder: ChannelHandlerContext?

    init(files: StaticFiles, log: RequestLog, connections: ConnectionTracker) {
        self.files = files
        self.log = log
        self.connections = connections
    }

    func handlerAdded(context: ChannelHandlerContext) {
        encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
        startDeadline(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        encoder = nil
        deadline?.cancel()
    }

    /// Gives the client the request timeout from now, and then closes the connection.
    private func startDeadline(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: TimeAmount(connections.limits.requestTimeout)) {
            channel.close(promise: nil)
        }
    }

    /// Once the request is read and every answer written, the connection waits for the next:
    /// a request passed on may take Hummingbird long (a change waiting for the lock), and its
    /// connection is not idle meanwhile.
    private func becomeIdleIfDone(_ context: ChannelHandlerContext) {
        guard phase == .answering, answersUnwritten == 0, passedOnInFlight == 0 else { return }
        phase = .waitingForHead
        connections.setWaiting(context.channel, true)
        startDeadline(context)
    }

    /// Counts an answer until `written` completes.
    private func track(_ written: EventLoopFuture<Void>, _ context: ChannelHandlerContext) {
        answersUnwritten += 1
        written.assumeIsolated().whenComplete { _ in
            self.answersUnwritten -= 1
            self.becomeIdleIfDone(context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            let start = ContinuousClock.now
            phase = .readingBody
            connections.setWaiting(context.channel, false)
            startDeadline(context)
            if head.method == .CONNECT {
                // Not a proxy. Answered here, with a length and a close, so that no client
                // waits for a tunnel or for the end of an unbounded answer.
                passingOn = false
                if passedOnInFlight == 0, encoder != nil {
                    write(Self.methodNotAllowed, to: head, context: context, closing: true)
                    log.write(
                        method: head.method.rawValue, path: head.uri, status: 405, length: "0", since: start,
                        counting: &requestCounter)
                } else {
                    context.close(promise: nil)
                }
            } else if passedOnInFlight == 0, encoder != nil, let reply = reply(to: head) {
                passingOn = false
                write(reply, to: head, context: context)
                unflushed = true
                log.write(
                    method: head.method.rawValue, path: head.uri, status: Int(reply.status.code),
                    length: reply.contentLength, since: start, counting: &requestCounter)
            } else {
                passingOn = true
                passedOnInFlight += 1
                // Hummingbird's request types have no HTTP version: an HTTP/1.0 request
                // without keep-alive says so in the header it understands, and its
                // connection is closed after the answer.
                if !head.isKeepAlive && !head.headers.contains(name: "connection") {
                    head.headers.add(name: "Connection", value: "close")
                }
                context.fireChannelRead(wrapInboundOut(.head(head)))
            }
        case .body:
            startDeadline(context)
            // The body of a GET answered here is read and dropped.
            if passingOn { context.fireChannelRead(data) }
        case .end:
            deadline?.cancel()
            phase = .answering
            if passingOn { context.fireChannelRead(data) }
            becomeIdleIfDone(context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent { connections.setClientClosed(context.channel) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if unflushed {
            unflushed = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Never below zero: Hummingbird also answers a request it could not parse, which this
        // handler never passed on.
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        passedOnInFlight = max(0, passedOnInFlight - 1)
        let written = context.eventLoop.makePromise(of: Void.self)
        track(written.futureResult, context)
        written.futureResult.cascade(to: promise)
        context.write(data, promise: written)
    }

    /// The reply for a request this handler answers: GET or HEAD of an existing file under
    /// the paths apt fetches, and any other method there (405: the tree is read-only).
    private func reply(to head: HTTPRequestHead) -> StaticFiles.Reply? {
        let path = head.uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { String(head.uri[..<$0]) } ?? head.uri
        let bytes = path.utf8
        guard bytes.starts(with: "/dists/".utf8) || bytes.starts(with: "/pool/".utf8) || path == "/archive-key.asc"
        else { return nil }
        guard head.method == .GET || head.method == .HEAD else { return Self.methodNotAllowed }
        return files.reply(isHead: head.method == .HEAD, path: path, conditions: Self.conditions(head.headers))
    }

    private static let methodNotAllowed = StaticFiles.Reply(
        status: .methodNotAllowed, headers: [("Allow", "GET, HEAD"), ("Content-Length", "0")])

    /// The conditional and range headers, found in one pass over the request's headers.
    private static func conditions(_ headers: HTTPHeaders) -> StaticFiles.Conditions {
        var conditions = StaticFiles.Conditions()
        for (name, value) in headers {
            // Only names beginning with `i` or `r` can matter: most are passed over unread.
            guard let first = name.utf8.first, first | 0x20 == UInt8(ascii: "i") || first | 0x20 == UInt8(ascii: "r")
            else { continue }
            switch name.lowercased() {
            case "if-none-match": conditions.ifNoneMatch.append(value)
            case "if-modified-since": conditions.ifModifiedSince = conditions.ifModifiedSince ?? value
            case "range": conditions.range = conditions.range ?? value
            case "if-range": conditions.ifRange = conditions.ifRange ?? value
            default: break
            }
        }
        return conditions
    }

    /// Writes the response as bytes, head and small body in one buffer, from the HTTP
    /// encoder's context, so past it: the encoder would only turn the same headers into the same
    /// bytes, at a sixth of a request's cost. Hummingbird's responses still go through it.
    private func write(
        _ reply: StaticFiles.Reply, to request: HTTPRequestHead, context: ChannelHandlerContext, closing: Bool = false
    ) {
        guard let encoder else { return }
        let smallBody = reply.body.flatMap { $0.part.count <= StaticFiles.chunkSize ? $0 : nil }
        var bytes = context.channel.allocator.buffer(capacity: 400 + (smallBody?.part.count ?? 0))
        let status = HTTPResponseStatus(statusCode: Int(reply.status.code))
        bytes.writeString("HTTP/1.\(request.version.minor) \(status.code) \(status.reasonPhrase)\r\n")
        bytes.writeString("Server: Depot\r\nDate: ")
        bytes.writeString(HTTPDate.now())
        for (name, value) in reply.headers {
            bytes.writeString("\r\n")
            bytes.writeString(name)
            bytes.writeString(": ")
            bytes.writeString(value)
        }
        let keepAlive = request.isKeepAlive && !closing
        if !keepAlive {
            bytes.writeString("\r\nConnection: close")
        } else if request.version.minor == 0 {
            bytes.writeString("\r\nConnection: keep-alive")
        }
        bytes.writeString("\r\n\r\n")
        let bodyInBuffer = smallBody.map { file, part in file.read(part.lowerBound, count: part.count, into: &bytes) }
        var written = encoder.write(NIOAny(IOData.byteBuffer(bytes)))
        if bodyInBuffer != true, let (file, part) = reply.body {
            // Large files go from the page cache to the socket by sendfile; the handle (a
            // duplicate of the open file) is closed once the write is done.
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: dup(file.descriptor))
            let region = FileRegion(fileHandle: handle, readerIndex: part.lowerBound, endIndex: part.upperBound + 1)
            written = encoder.write(NIOAny(IOData.fileRegion(region)))
            written.whenComplete { _ in try? handle.close() }
        }
        track(written, context)
        if !keepAlive {
            let channel = context.channel
            context.flush()
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
