import CSystemCalls
import DebianFormat
import Foundation
import HTTPTypes
import Hummingbird

/// Serves `public/` as apt expects of a web server: GET and HEAD, Content-Length,
/// Content-Type, Last-Modified, ETag, conditional requests and single byte ranges; and nothing
/// outside it.
///
/// Each file is opened with `openat2(RESOLVE_BENEATH)` below `public/`, so the kernel refuses
/// `..` and symbolic links that lead out, and the response is read from that open file: a
/// publish switches `dists/<dist>` to a new generation at any moment, and a response must not
/// take its length from one generation and its bytes from the next.
///
/// When the tree lives in a bucket, every request for it is redirected there instead.
struct StaticFiles: Sendable {
    /// `public/`, open for lookups below it for as long as the server runs; -1 with a bucket.
    let root: Int32
    /// Where the tree is, when it is not `public/`: requests go there, path appended.
    let redirectBase: String?

    init(publicDirectory: String) throws {
        root = open(publicDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else {
            throw HTTPError(.internalServerError, message: "\(publicDirectory): \(String(cString: strerror(errno)))")
        }
        redirectBase = nil
    }

    init(redirectingTo base: String) {
        root = -1
        redirectBase = base
    }

    /// How a request for a file is answered, before a framework writes it out: the status, the
    /// headers and the part of the open file to send (none for HEAD, 304 and 416).
    struct Reply {
        var status: HTTPResponse.Status
        /// Names and values, as plain strings: each front writes them its own way once.
        var headers: [(String, String)]
        var body: (file: OpenFile, part: ClosedRange<Int>)?

        /// The Content-Length header's value, if it has one.
        var contentLength: String? { headers.first { $0.0 == "Content-Length" }?.1 }
    }

    /// The request headers a reply depends on.
    struct Conditions {
        var ifNoneMatch: [String] = []
        var ifModifiedSince: String?
        var range: String?
        var ifRange: String?
    }

    /// The reply to a GET or HEAD of `path`; nil when `path` names no file below `public/`
    /// (a 404).
    func reply(isHead: Bool, path: String, conditions: Conditions) -> Reply? {
        if let redirectBase {
            // Found, not Moved Permanently: the tree may move back, and nothing should
            // remember this answer beyond the request.
            return Reply(
                status: .found,
                headers: [("Location", redirectBase + path), ("Content-Length", "0"), ("Cache-Control", "no-cache")])
        }
        guard let relative = Self.relativePath(path) else { return nil }
        let descriptor = depot_open_beneath(root, relative)
        guard descriptor >= 0 else { return nil }
        let file = OpenFile(descriptor: descriptor)
        var information = stat()
        guard depot_fstat(descriptor, &information) == 0, (information.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int(information.st_size)
        let modified = Modified(information.st_mtim)
        let eTag =
            "\"\(String(information.st_ino, radix: 16))-\(String(size, radix: 16))-\(String(modified.seconds, radix: 16))\""

        var headers = [
            ("Content-Type", Self.contentType(of: relative)), ("Last-Modified", HTTPDate.format(modified.lastModified)),
            ("ETag", eTag), ("Accept-Ranges", "bytes"),
        ]
        if Self.isNotModified(conditions, eTag: eTag, modified: modified) {
            return Reply(status: .notModified, headers: headers)
        }
        var range: ClosedRange<Int>? = nil
        if let rangeHeader = conditions.range, Self.rangeApplies(conditions, eTag: eTag, modified: modified) {
            switch ByteRange(header: rangeHeader, size: size) {
            case .whole: break
            case .part(let part): range = part
            case .unsatisfiable:
                headers.append(("Content-Range", "bytes */\(size)"))
                headers.append(("Content-Length", "0"))
                return Reply(status: .rangeNotSatisfiable, headers: headers)
            }
        }
        if let range {
            headers.append(("Content-Range", "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"))
        }
        headers.append(("Content-Length", String(range?.count ?? size)))
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        guard !isHead, size > 0 else { return Reply(status: status, headers: headers) }
        return Reply(status: status, headers: headers, body: (file, range ?? 0...(size - 1)))
    }

    /// The reply as a Hummingbird response: files that reach Hummingbird rather than
    /// `StaticFileHandler` (a 404, or a request pipelined behind an API call).
    func respond(to request: Request, context: some RequestContext) async throws -> Response {
        let conditions = Conditions(
            ifNoneMatch: request.headers[values: .ifNoneMatch], ifModifiedSince: request.headers[.ifModifiedSince],
            range: request.headers[.range], ifRange: request.headers[.ifRange])
        guard let reply = reply(isHead: request.method == .head, path: request.uri.path, conditions: conditions) else {
            throw HTTPError(.notFound)
        }
        let headers = HTTPFields(
            reply.headers.compactMap { name, value in HTTPField.Name(name).map { HTTPField(name: $0, value: value) } })
        guard let (file, part) = reply.body else { return Response(status: reply.status, headers: headers) }
        // Indices and most packages are small: read at once. Large files go out in chunks,
        // never whole in memory; the open file stays with the body until it is written.
        if part.count <= Self.chunkSize {
            guard let bytes = file.read(part.lowerBound, count: part.count) else {
                throw HTTPError(.internalServerError)
            }
            return Response(status: reply.status, headers: headers, body: .init(byteBuffer: bytes))
        }
        let body = ResponseBody(contentLength: part.count) { writer in
            var offset = part.lowerBound
            while offset <= part.upperBound {
                let count = min(Self.chunkSize, part.upperBound - offset + 1)
                guard let chunk = file.read(offset, count: count) else { throw HTTPError(.internalServerError) }
                try await writer.write(chunk)
                offset += count
            }
            try await writer.finish(nil)
        }
        return Response(status: reply.status, headers: headers, body: body)
    }

    static let chunkSize = 256 << 10

    /// The path below `public/` a request names, or nil when it cannot name a served file:
    /// empty, hidden segments (`.depot`, `..`, also percent-encoded) or NUL bytes.
    static func relativePath(_ requestPath: String) -> String? {
        if isPlain(requestPath) { return String(requestPath.utf8.dropFirst())! }
        // A trailing slash names a folder, never the file without it.
        guard let decoded = percentDecoded(requestPath), !decoded.contains(0), decoded.last != UInt8(ascii: "/")
        else { return nil }
        let segments = decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        guard !segments.isEmpty, !segments.contains(where: { $0.first == UInt8(ascii: ".") }) else { return nil }
        return segments.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
    }

    /// Whether a path is `/` and segments that need no decoding and none of which is empty or
    /// hidden: the path of nearly every request, which is then the relative path as it is.
    private static func isPlain(_ path: String) -> Bool {
        var previous: UInt8 = 0
        for byte in path.utf8 {
            if previous == 0 {
                guard byte == UInt8(ascii: "/") else { return false }
            } else if byte == UInt8(ascii: "%") || byte == 0
                || (previous == UInt8(ascii: "/") && (byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/")))
            {
                return false
            }
            previous = byte
        }
        return previous != 0 && previous != UInt8(ascii: "/")
    }

    /// The bytes of a URL path with `%XX` escapes decoded; nil for a malformed escape.
    static func percentDecoded(_ path: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(path.utf8.count)
        var iterator = path.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// A file's modification time at full precision: HTTP dates count whole seconds, and a
    /// file changed within the second a date names is changed.
    struct Modified {
        var seconds: Int
        var nanoseconds: Int

        init(_ time: timespec) {
            seconds = Int(time.tv_sec)
            nanoseconds = Int(time.tv_nsec)
        }

        /// Whether the file is unchanged since the start of second `date`, so that a client
        /// holding what was served with `Last-Modified: date` holds this file.
        func isNotLater(than date: Int) -> Bool {
            seconds < date || (seconds == date && nanoseconds == 0)
        }

        /// The `Last-Modified` to send: the end of the file's second, the first whole second
        /// the file is not later than, so that revalidating with it finds the file unchanged;
        /// but never later than now (the answer's `Date`). A file changed within the current
        /// second is dated by its start, which revalidation takes as changed until the second
        /// is over.
        var lastModified: Int {
            min(nanoseconds == 0 ? seconds : seconds + 1, time(nil))
        }
    }

    /// `If-None-Match` compares entity tags weakly (RFC 9110 §13.1.2): `W/"x"` matches `"x"`.
    /// An `If-Modified-Since` later than now is not a date the client can have seen: ignored.
    private static func isNotModified(_ conditions: Conditions, eTag: String, modified: Modified) -> Bool {
        let matches = conditions.ifNoneMatch.flatMap { $0.split(separator: ",") }
            .map { tag in
                let trimmed = tag.trimmingCharacters(in: .whitespaces)
                return trimmed.hasPrefix("W/") ? String(trimmed.dropFirst(2)) : trimmed
            }
        if !matches.isEmpty { return matches.contains("*") || matches.contains(eTag) }
        if let since = conditions.ifModifiedSince.flatMap(HTTPDate.parse), since <= time(nil) {
            return modified.isNotLater(than: since)
        }
        return false
    }

    /// `If-Range`: the range is served only if the file is still the one the client has: the
    /// same entity tag, or a date the file is not later than (see `Modified.lastModified`).
    private static func rangeApplies(_ conditions: Conditions, eTag: String, modified: Modified) -> Bool {
        guard let condition = conditions.ifRange else { return true }
        if condition == eTag { return true }
        guard let date = HTTPDate.parse(condition) else { return false }
        return modified.isNotLater(than: date)
    }

    /// Compared byte by byte: this runs for every request, and the generic string searches
    /// were a tenth of a request's time.
    static func contentType(of path: String) -> String {
        let bytes = Array(path.utf8)
        for (suffix, type) in contentTypes where bytes.count >= suffix.count {
            if bytes[(bytes.count - suffix.count)...].elementsEqual(suffix) { return type }
        }
        // Release, InRelease and Packages are text; by-hash copies are named by their digest
        // alone, so their kind cannot be told.
        return bytes.split(separator: UInt8(ascii: "/")).contains { $0.elementsEqual(byHash) }
            ? "application/octet-stream" : "text/plain; charset=utf-8"
    }

    private static let byHash = Array("by-hash".utf8)

    private static let contentTypes = [
        (".deb", "application/vnd.debian.binary-package"), (".gz", "application/gzip"), (".xz", "application/x-xz"),
        (".asc", "application/pgp-keys"), (".gpg", "application/pgp-signature"),
    ].map { (Array($0.0.utf8), $0.1) }
}

/// A file opened for one response, closed when the response no longer needs it.
final class OpenFile: Sendable {
    let descriptor: Int32

    init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    /// Appends `count` bytes at `offset` to `buffer`; false, with `buffer` as it was, if the
    /// file does not have them.
    func read(_ offset: Int, count: Int, into buffer: inout ByteBuffer) -> Bool {
        let end = buffer.writerIndex
        let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { target in
            max(0, pread(descriptor, target.baseAddress, count, off_t(offset)))
        }
        guard read == count else {
            buffer.moveWriterIndex(to: end)
            return false
        }
        return true
    }

    /// `count` bytes at `offset`, or nil if the file does not have them.
    func read(_ offset: Int, count: Int) -> ByteBuffer? {
        var buffer = ByteBuffer()
        return read(offset, count: count, into: &buffer) ? buffer : nil
    }
}

/// A `Range` header against a file of `size` bytes (RFC 9110 §14): one range is served as a
/// part; several, or a header that is not `bytes=` or does not parse, get the whole file, as
/// the RFC allows (a malformed range is ignored, not refused). A suffix longer than the file
/// is the whole file; only a range that starts past the end, or an empty suffix, is
/// unsatisfiable.
enum ByteRange: Equatable {
    case whole
    case part(ClosedRange<Int>)
    case unsatisfiable

    init(header: String, size: Int) {
        guard header.hasPrefix("bytes="), !header.contains(",") else {
            self = .whole
            return
        }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        let bounds = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard bounds.count == 2 else {
            self = .whole
            return
        }
        let first = Self.position(bounds[0])
        let last = Self.position(bounds[1])
        switch (bounds[0].isEmpty, bounds[1].isEmpty) {
        case (true, false):
            // The last N bytes.
            guard let count = last else {
                self = .whole
                return
            }
            guard count > 0, size > 0 else {
                self = .unsatisfiable
                return
            }
            self = .part(max(0, size - count)...(size - 1))
        case (false, _):
            guard let start = first, start >= 0, bounds[1].isEmpty || (last.map { $0 >= start } ?? false) else {
                self = .whole
                return
            }
            guard start < size else {
                self = .unsatisfiable
                return
            }
            self = .part(start...min(last ?? (size - 1), size - 1))
        case (true, true):
            self = .whole
        }
    }

    /// A byte position: digits only, as large as they are (beyond `Int.max` is past any end).
    private static func position(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy(isASCIIDigit) else { return nil }
        return Int(text) ?? Int.max
    }
}
