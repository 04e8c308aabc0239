import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// A client of one bucket of an S3-compatible object store (AWS S3, MinIO, Ceph RGW, GCS's
/// S3 interface), signing with AWS Signature Version 4. It knows nothing of Depot: objects,
/// keys and conditions only.
public final class S3Client: Sendable {
    public enum Addressing: String, Sendable {
        /// `https://endpoint/bucket/key`: MinIO, Ceph and most servers that are not AWS.
        case path
        /// `https://bucket.endpoint/key`: AWS.
        case virtual
    }

    /// Where a bucket's objects are: the endpoint, the bucket and how requests name it.
    public struct Location: Sendable, Hashable {
        public let bucket: String
        let scheme: String
        let host: String
        let port: Int?
        let addressing: Addressing

        /// `endpoint` is `scheme://host[:port]`, as `S3-Endpoint:` gives it.
        public init(endpoint: String, bucket: String, addressing: Addressing) throws(S3Error) {
            guard let url = URL(string: endpoint), let scheme = url.scheme, scheme == "http" || scheme == "https",
                let host = url.host, !host.isEmpty
            else {
                throw S3Error(bucket: bucket, key: nil, problem: .invalidEndpoint(endpoint))
            }
            self.scheme = scheme
            self.host = host
            self.port = url.port
            self.bucket = bucket
            self.addressing = addressing
        }

        /// Where a request for `key` (or the bucket, for nil) goes: its host and unencoded path.
        func target(_ key: String?) -> (host: String, path: String) {
            let hostWithPort = host + (port.map { ":\($0)" } ?? "")
            switch addressing {
            case .path: return (hostWithPort, "/\(bucket)" + (key.map { "/" + $0 } ?? "/"))
            case .virtual: return ("\(bucket).\(hostWithPort)", "/" + (key ?? ""))
            }
        }

        /// The unsigned URL of an object: where an anonymous client reads it, when the
        /// bucket allows that.
        public func url(of key: String) -> String {
            let (host, path) = target(key)
            let encoded = SignableRequest(method: "GET", host: host, path: path, payloadHash: "").encodedPath
            return "\(scheme)://\(host)\(encoded)"
        }
    }

    public let location: Location
    public var bucket: String { location.bucket }
    let signer: SigV4Signer
    let http: HTTPClient
    /// Attempts of a request that failed for a reason that may pass (5xx, a dropped
    /// connection, a timeout), the first included.
    let attempts: Int
    let timeout: TimeAmount

    /// `endpoint` is `scheme://host[:port]`, as `S3-Endpoint:` gives it.
    public init(
        endpoint: String, region: String, bucket: String, addressing: Addressing, credentials: AWSCredentials,
        httpClient: HTTPClient = S3Client.sharedHTTPClient, attempts: Int = 4, timeout: TimeAmount = .seconds(600)
    ) throws(S3Error) {
        location = try Location(endpoint: endpoint, bucket: bucket, addressing: addressing)
        self.signer = SigV4Signer(credentials: credentials, region: region)
        self.http = httpClient
        self.attempts = max(1, attempts)
        self.timeout = timeout
    }

    /// One HTTP client for the process (never shut down, like `HTTPClient.shared`), that
    /// leaves retrying to `send`: AsyncHTTPClient's own pool would keep trying to connect to
    /// an unreachable endpoint until the request's deadline, minutes for a large upload.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        configuration.timeout.read = .seconds(120)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    // MARK: - Objects

    /// What a write may require of the object it replaces.
    public enum Condition: Sendable, Hashable {
        /// Only if no object has the key (`If-None-Match: *`): create-only.
        case absent
        /// Only if the object still has this ETag (`If-Match`).
        case matches(eTag: String)
    }

    /// What is uploaded: bytes in memory, or a part of a file read as it is sent.
    public enum Body: Sendable {
        case bytes([UInt8])
        case file(path: String, offset: Int, count: Int)

        var count: Int {
            switch self {
            case .bytes(let bytes): bytes.count
            case .file(_, _, let count): count
            }
        }
    }

    /// Writes an object; returns its ETag. `sha256` is the hex SHA-256 of the body, which the
    /// caller has already computed (Depot hashes every byte once): it is the signed payload
    /// hash, so the server checks the body against it. `acl` is a canned ACL (`x-amz-acl`),
    /// for servers that grant anonymous reads object by object.
    @discardableResult
    public func put(
        _ key: String, body: Body, sha256: String, contentType: String? = nil, cacheControl: String? = nil,
        acl: String? = nil, condition: Condition? = nil
    ) async throws(S3Error) -> String {
        var headers: [(name: String, value: String)] = [("Content-Length", String(body.count))]
        headers += Self.objectHeaders(contentType: contentType, cacheControl: cacheControl, acl: acl)
        switch condition {
        case .absent: headers.append(("If-None-Match", "*"))
        case .matches(let eTag): headers.append(("If-Match", eTag))
        case nil: break
        }
        let response = try await send("PUT", key: key, headers: headers, body: body, payloadHash: sha256)
        return response.headers.first(name: "etag") ?? ""
    }

    /// An object's size and ETag (and when it was written, as the server's `Last-Modified`
    /// says it), or nil when there is none.
    public struct ObjectInfo: Sendable, Hashable {
        public var size: Int
        public var eTag: String
        public var lastModified: String

        public init(size: Int, eTag: String, lastModified: String = "") {
            self.size = size
            self.eTag = eTag
            self.lastModified = lastModified
        }
    }

    public func head(_ key: String) async throws(S3Error) -> ObjectInfo? {
        do {
            let response = try await send("HEAD", key: key)
            return ObjectInfo(
                size: response.headers.first(name: "content-length").flatMap(Int.init) ?? 0,
                eTag: response.headers.first(name: "etag") ?? "",
                lastModified: response.headers.first(name: "last-modified") ?? "")
        } catch let error where error.isNotFound {
            return nil
        }
    }

    /// An object's bytes, or nil when there is none.
    public func get(_ key: String) async throws(S3Error) -> [UInt8]? {
        try await getWithETag(key)?.body
    }

    /// Reads an object a buffer at a time as it arrives, keeping none of it: for objects of
    /// any size. False when there is none.
    public func read(_ key: String, _ consume: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void)
        async throws(S3Error)
        -> Bool
    {
        do {
            _ = try await send("GET", key: key, consume: consume)
            return true
        } catch let error where error.isNotFound {
            return false
        }
    }

    /// An object's bytes and ETag, or nil when there is none: the ETag to make a later write
    /// conditional on the object being still this one.
    public func getWithETag(_ key: String) async throws(S3Error) -> (
        body: [UInt8], eTag: String, lastModified: String
    )? {
        do {
            let answer = try await send("GET", key: key)
            return (
                answer.body, answer.headers.first(name: "etag") ?? "", answer.headers.first(name: "last-modified") ?? ""
            )
        } catch let error where error.isNotFound {
            return nil
        }
    }

    private static func objectHeaders(contentType: String?, cacheControl: String?, acl: String?) -> [(
        name: String, value: String
    )] {
        var headers: [(name: String, value: String)] = []
        if let contentType { headers.append(("Content-Type", contentType)) }
        if let cacheControl { headers.append(("Cache-Control", cacheControl)) }
        if let acl { headers.append(("x-amz-acl", acl)) }
        return headers
    }

    /// Deletes an object; deleting one that does not exist succeeds, as in S3.
    public func delete(_ key: String) async throws(S3Error) {
        _ = try await send("DELETE", key: key)
    }

    // MARK: - Listing

    public struct ListedObject: Sendable, Hashable {
        public var key: String
        public var size: Int
        public var lastModified: String
    }

    /// Every object whose key starts with `prefix`, page after page (ListObjectsV2), at most
    /// `pageSize` a page (the server's own limit, 1,000 on S3, when nil), and at most
    /// `maxPages` pages.
    public func list(prefix: String, pageSize: Int? = nil, maxPages: Int = .max) async throws(S3Error)
        -> [ListedObject]
    {
        var objects: [ListedObject] = []
        var continuation: String?
        var pages = 0
        repeat {
            pages += 1
            var query = [(name: "list-type", value: "2"), (name: "prefix", value: prefix)]
            if let pageSize { query.append((name: "max-keys", value: String(pageSize))) }
            if let continuation { query.append((name: "continuation-token", value: continuation)) }
            let response = try await send("GET", key: nil, query: query)
            let text = String(decoding: response.body, as: UTF8.self)
            for contents in XMLText.elements("Contents", in: text) {
                objects.append(
                    ListedObject(
                        key: XMLText.elements("Key", in: contents).first ?? "",
                        size: XMLText.elements("Size", in: contents).first.flatMap(Int.init) ?? 0,
                        lastModified: XMLText.elements("LastModified", in: contents).first ?? ""))
            }
            let truncated = XMLText.elements("IsTruncated", in: text).first == "true"
            continuation = truncated ? XMLText.elements("NextContinuationToken", in: text).first : nil
        } while continuation != nil && pages < maxPages
        return objects
    }

    // MARK: - Multipart

    /// Uploads `count` bytes of a file at `path` in parts of `partSize` (at least 5 MiB, as
    /// S3 requires of every part but the last), `concurrency` at a time; aborts the upload
    /// if any part fails, so that no invisible parts are left to pay for. Returns the ETag.
    @discardableResult
    public func putInParts(
        _ key: String, path: String, count: Int, partSize: Int = 16 << 20, concurrency: Int = 4,
        contentType: String? = nil, cacheControl: String? = nil, acl: String? = nil, condition: Condition? = nil
    ) async throws(S3Error) -> String {
        let headers = Self.objectHeaders(contentType: contentType, cacheControl: cacheControl, acl: acl)
        let created = try await send(
            "POST", key: key, query: [(name: "uploads", value: "")], headers: headers)
        guard let uploadID = XMLText.elements("UploadId", in: String(decoding: created.body, as: UTF8.self)).first
        else {
            throw S3Error(bucket: bucket, key: key, problem: .malformedAnswer("no UploadId in the answer"))
        }
        let size = max(5 << 20, partSize)
        let parts = stride(from: 0, to: count, by: size).enumerated().map { index, offset in
            (number: index + 1, offset: offset, count: min(size, count - offset))
        }
        do {
            let eTags = try await uploadParts(parts, key: key, path: path, uploadID: uploadID, concurrency: concurrency)
            let manifest =
                "<CompleteMultipartUpload>"
                + eTags.enumerated().map {
                    "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\(XMLText.escaped($0.element))</ETag></Part>"
                }
                .joined() + "</CompleteMultipartUpload>"
            var completeHeaders: [(name: String, value: String)] = []
            switch condition {
            case .absent: completeHeaders.append(("If-None-Match", "*"))
            case .matches(let eTag): completeHeaders.append(("If-Match", eTag))
            case nil: break
            }
            let body = Array(manifest.utf8)
            let completed = try await send(
                "POST", key: key, query: [(name: "uploadId", value: uploadID)], headers: completeHeaders,
                body: .bytes(body), payloadHash: SigV4Signer.hex(SHA256.hash(data: body)))
            return XMLText.elements("ETag", in: String(decoding: completed.body, as: UTF8.self)).first ?? ""
        } catch {
            _ = try? await send("DELETE", key: key, query: [(name: "uploadId", value: uploadID)])
            throw error
        }
    }

    private func uploadParts(
        _ parts: [(number: Int, offset: Int, count: Int)], key: String, path: String, uploadID: String,
        concurrency: Int
    ) async throws(S3Error) -> [String] {
        do {
            return try await withThrowingTaskGroup(of: (Int, String).self) { group in
                var eTags = [String](repeating: "", count: parts.count)
                var next = 0
                func start() {
                    let part = parts[next]
                    next += 1
                    group.addTask {
                        let hash = try FileHash.sha256(path: path, offset: part.offset, count: part.count)
                        let response = try await self.send(
                            "PUT", key: key,
                            query: [
                                (name: "partNumber", value: String(part.number)), (name: "uploadId", value: uploadID),
                            ],
                            headers: [("Content-Length", String(part.count))],
                            body: .file(path: path, offset: part.offset, count: part.count), payloadHash: hash)
                        return (part.number, response.headers.first(name: "etag") ?? "")
                    }
                }
                while next < min(max(1, concurrency), parts.count) { start() }
                while let (number, eTag) = try await group.next() {
                    eTags[number - 1] = eTag
                    if next < parts.count { start() }
                }
                return eTags
            }
        } catch let error as S3Error {
            throw error
        } catch {
            throw S3Error(bucket: bucket, key: key, problem: .unreadableFile(path, "\(error)"))
        }
    }

    // MARK: - Requests

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    /// Signs and sends one request, again after a failure that may pass; throws for any
    /// answer but 2xx, and for an `<Error>` in a 200 answer (S3 sends one when a long
    /// request fails after its status line was sent).
    ///
    /// With `consume`, a 2xx answer's body is handed to it a buffer at a time as it arrives,
    /// and not kept; once some of it has been, a failure is not retried.
    func send(
        _ method: String, key: String?, query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = [], body: Body? = nil,
        payloadHash: String = SigV4Signer.emptyPayloadHash,
        consume: (@Sendable (UnsafeRawBufferPointer) throws -> Void)? = nil
    ) async throws(S3Error) -> Answer {
        let (host, path) = location.target(key)
        let signable = SignableRequest(
            method: method, host: host, path: path, query: query,
            headers: headers.filter { $0.name.lowercased() != "content-length" }, payloadHash: payloadHash)
        let query = signable.encodedQuery
        let url = "\(location.scheme)://\(host)\(signable.encodedPath)" + (query.isEmpty ? "" : "?" + query)
        var delay: UInt64 = 200_000_000
        for attempt in 1...attempts {
            var request = HTTPClientRequest(url: url)
            request.method = HTTPMethod(rawValue: method)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            for (name, value) in signer.headers(for: signable, at: Date()) {
                request.headers.add(name: name, value: value)
            }
            switch body {
            case .bytes(let bytes)?: request.body = .bytes(ByteBuffer(bytes: bytes))
            case .file(let path, let offset, let count)?:
                request.body = .stream(
                    FileChunks(path: path, offset: offset, count: count), length: .known(Int64(count)))
            case nil: break
            }
            let failure: S3Error
            var consumed = false
            do {
                let response = try await http.execute(request, timeout: timeout)
                if let consume, (200..<300).contains(Int(response.status.code)) {
                    consumed = true
                    for try await chunk in response.body { try chunk.withUnsafeReadableBytes(consume) }
                    return Answer(status: Int(response.status.code), headers: response.headers, body: [])
                }
                let bytes = try await response.body.collect(upTo: 64 << 20)
                let answer = Answer(
                    status: Int(response.status.code), headers: response.headers, body: Array(buffer: bytes))
                if (200..<300).contains(answer.status), !(method == "POST" && XMLText.isError(answer.body)) {
                    return answer
                }
                failure = S3Error(bucket: bucket, key: key, status: answer.status, body: answer.body, method: method)
            } catch let error as S3Error {
                failure = error
            } catch {
                failure = S3Error(bucket: bucket, key: key, problem: .transport("\(error)"))
            }
            guard failure.mayPass, !consumed, attempt < attempts else { throw failure }
            try? await Task.sleep(nanoseconds: delay)
            delay *= 3
        }
        throw S3Error(bucket: bucket, key: key, problem: .transport("no attempt was made"))
    }
}

/// The bytes of a part of a file, read as they are sent.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let offset: Int
    let count: Int

    /// The file stays open as long as the iterator, however the upload ends.
    final class OpenFile {
        let descriptor: Int32
        init(_ path: String) { descriptor = open(path, O_RDONLY | O_CLOEXEC) }
        deinit { if descriptor >= 0 { close(descriptor) } }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let file: OpenFile
        var position: Int
        let end: Int

        mutating func next() async throws -> ByteBuffer? {
            guard position < end else { return nil }
            guard file.descriptor >= 0 else { throw S3FileError(code: errno) }
            let wanted = Swift.min(1 << 20, end - position)
            var buffer = ByteBuffer()
            let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { target in
                Swift.max(0, pread(file.descriptor, target.baseAddress, wanted, off_t(position)))
            }
            // The file shrank since it was hashed: the upload must fail, not send less.
            guard read > 0 else { throw S3FileError(code: EIO) }
            position += read
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(file: OpenFile(path), position: offset, end: offset + count)
    }
}

struct S3FileError: Error {
    var code: Int32
}

/// The SHA-256 of a part of a file, for a part of a multipart upload (the whole file's hash
/// does not sign a part).
enum FileHash {
    static func sha256(path: String, offset: Int, count: Int) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw S3FileError(code: errno) }
        defer { close(descriptor) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var position = offset
        while position < offset + count {
            let wanted = min(buffer.count, offset + count - position)
            let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, wanted, off_t(position)) }
            guard read > 0 else { throw S3FileError(code: read < 0 ? errno : EIO) }
            hasher.update(data: buffer[0..<read])
            position += read
        }
        return SigV4Signer.hex(hasher.finalize())
    }
}
