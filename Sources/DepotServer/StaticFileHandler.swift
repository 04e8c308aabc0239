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
final class StaticFileHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let files: StaticFiles
    private let logger: Logger
    /// Requests passed on whose responses have not ended yet.
    private var passedOnInFlight = 0
    /// Whether the parts of the request being read go on to Hummingbird.
    private var passingOn = false
    /// Whether this read answered something that still needs a flush.
    private var unflushed = false

    /// The HTTP encoder's context: writes made from it go straight to the socket.
    private var encoder: ChannelHandlerContext?

    init(files: StaticFiles, logger: Logger) {
        self.files = files
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        encoder = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            let start = ContinuousClock.now
            if head.method == .CONNECT {
                // Not a proxy. Answered here, with a length and a close, so that no client
                // waits for a tunnel or for the end of an unbounded answer.
                passingOn = false
                if passedOnInFlight == 0, encoder != nil {
                    write(Self.methodNotAllowed, to: head, context: context, closing: true)
                    AccessLogLine.write(
                        logger, method: head.method.rawValue, path: head.uri, status: 405, length: "0", since: start)
                } else {
                    context.close(promise: nil)
                }
            } else if passedOnInFlight == 0, encoder != nil, let reply = reply(to: head) {
                passingOn = false
                write(reply, to: head, context: context)
                unflushed = true
                AccessLogLine.write(
                    logger, method: head.method.rawValue, path: head.uri, status: Int(reply.status.code),
                    length: reply.contentLength, since: start)
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
        case .body, .end:
            // The body of a GET answered here is read and dropped.
            if passingOn { context.fireChannelRead(data) }
        }
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
        if case .end = unwrapOutboundIn(data) { passedOnInFlight = max(0, passedOnInFlight - 1) }
        context.write(data, promise: promise)
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
        if !keepAlive {
            let channel = context.channel
            context.flush()
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
