import Foundation
import Hummingbird

/// Serves `public/` as apt expects of a web server: GET and HEAD, Content-Length,
/// Content-Type, Last-Modified, ETag, conditional requests and single byte ranges; and nothing
/// outside it.
///
/// Each path is resolved to its real file first and that file is what is read: a publish
/// switches `dists/<dist>` to a new generation at any moment, and a response must not take
/// its length from one generation and its bytes from the next.
struct StaticFiles: Sendable {
    /// The real path of `public/`.
    let root: String
    let fileIO = FileIO()

    init(publicDirectory: String) throws {
        guard let root = realpath(publicDirectory, nil) else {
            throw HTTPError(.internalServerError, message: "\(publicDirectory): \(String(cString: strerror(errno)))")
        }
        self.root = String(cString: root)
        free(root)
    }

    func respond(to request: Request, context: some RequestContext) async throws -> Response {
        guard let file = resolve(request.uri.path) else { throw HTTPError(.notFound) }
        var information = stat()
        guard stat(file, &information) == 0, (information.st_mode & S_IFMT) == S_IFREG else {
            throw HTTPError(.notFound)
        }
        let size = Int(information.st_size)
        let modified = Int(information.st_mtim.tv_sec)
        let eTag =
            "\"\(String(information.st_ino, radix: 16))-\(String(size, radix: 16))-\(String(modified, radix: 16))\""

        var headers = HTTPFields()
        headers[.contentType] = Self.contentType(of: file)
        headers[.lastModified] = HTTPDate.format(modified)
        headers[.eTag] = eTag
        headers[.acceptRanges] = "bytes"

        if isNotModified(request, eTag: eTag, modified: modified) {
            return Response(status: .notModified, headers: headers)
        }
        var range: ClosedRange<Int>? = nil
        if let header = request.headers[.range], rangeApplies(request, eTag: eTag, modified: modified) {
            switch ByteRange(header: header, size: size) {
            case .whole: break
            case .part(let part): range = part
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(size)"
                headers[.contentLength] = "0"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
        }
        if let range {
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = String(range.count)
        } else {
            headers[.contentLength] = String(size)
        }
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        guard request.method == .get else { return Response(status: status, headers: headers) }
        let body =
            size == 0
            ? ResponseBody() : try await fileIO.loadFile(path: file, range: range ?? 0...(size - 1), context: context)
        return Response(status: status, headers: headers, body: body)
    }

    /// The real path of the file a request path names, or nil when it names nothing inside
    /// `public/`: `..` or hidden segments (also percent-encoded), NUL bytes, or symbolic links
    /// leading out.
    func resolve(_ requestPath: String) -> String? {
        guard let decoded = requestPath.removingPercentEncoding, !decoded.contains("\0") else { return nil }
        let segments = decoded.split(separator: "/", omittingEmptySubsequences: true)
        guard !segments.isEmpty, !segments.contains(where: { $0.hasPrefix(".") }) else { return nil }
        guard let resolved = realpath(root + "/" + segments.joined(separator: "/"), nil) else { return nil }
        defer { free(resolved) }
        let path = String(cString: resolved)
        return path.hasPrefix(root + "/") ? path : nil
    }

    private func isNotModified(_ request: Request, eTag: String, modified: Int) -> Bool {
        let matches = request.headers[values: .ifNoneMatch].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if !matches.isEmpty { return matches.contains("*") || matches.contains(eTag) }
        if let since = request.headers[.ifModifiedSince].flatMap(HTTPDate.parse) { return modified <= since }
        return false
    }

    /// `If-Range`: the range is served only if the file is still the one the client has.
    private func rangeApplies(_ request: Request, eTag: String, modified: Int) -> Bool {
        guard let condition = request.headers[.ifRange] else { return true }
        return condition == eTag || HTTPDate.parse(condition) == modified
    }

    static func contentType(of path: String) -> String {
        switch (path as NSString).pathExtension {
        case "deb": return "application/vnd.debian.binary-package"
        case "gz": return "application/gzip"
        case "xz": return "application/x-xz"
        case "asc": return "application/pgp-keys"
        case "gpg": return "application/pgp-signature"
        case "html": return "text/html; charset=utf-8"
        default:
            // Release, InRelease, Packages and by-hash copies (named by their digest) are text
            // or compressed; the name alone cannot tell a by-hash copy's kind.
            return path.contains("/by-hash/") ? "application/octet-stream" : "text/plain; charset=utf-8"
        }
    }
}

/// A `Range` header against a file of `size` bytes (RFC 9110 §14): one range is served as a
/// part; several, or a header that is not `bytes=`, get the whole file, as the RFC allows.
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
        let first = Int(bounds[0])
        let last = Int(bounds[1])
        switch (bounds[0].isEmpty, bounds[1].isEmpty) {
        case (true, false):
            // The last N bytes.
            guard let count = last, count > 0, size > 0 else {
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
}
