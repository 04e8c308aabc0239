import Crypto
import Foundation

/// A request as AWS Signature Version 4 sees it: the method, the host, the path and query
/// as plain (unencoded) text, and the headers to sign.
public struct SignableRequest: Sendable {
    public var method: String
    public var host: String
    /// The path, starting with `/`, not yet encoded: `/bucket/pool/main/a+b.deb`.
    public var path: String
    /// Query parameters, not yet encoded, in any order: `("prefix", "pool/")`.
    public var query: [(name: String, value: String)]
    /// Headers to sign besides `host`, `x-amz-date`, `x-amz-content-sha256` and
    /// `x-amz-security-token`, which signing adds.
    public var headers: [(name: String, value: String)]
    /// The hex SHA-256 of the body (`UNSIGNED-PAYLOAD` is also allowed).
    public var payloadHash: String

    public init(
        method: String, host: String, path: String, query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = [], payloadHash: String
    ) {
        self.method = method
        self.host = host
        self.path = path
        self.query = query
        self.headers = headers
        self.payloadHash = payloadHash
    }

    /// The path as it goes on the wire and into the canonical request: each segment
    /// percent-encoded once (S3 does not encode twice), `/` kept.
    public var encodedPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { SigV4Signer.encode(String($0)) }
            .joined(separator: "/")
    }

    /// The query as it goes on the wire and into the canonical request: names and values
    /// percent-encoded, sorted by name then value.
    public var encodedQuery: String {
        let pairs: [(name: String, value: String)] = query.map {
            (SigV4Signer.encode($0.name), SigV4Signer.encode($0.value))
        }
        let sorted = pairs.sorted { a, b in a.name != b.name ? a.name < b.name : a.value < b.value }
        return sorted.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }
}

/// AWS Signature Version 4 for S3 (the "Authenticating Requests" chapter of the S3 API
/// reference): the canonical request, the string to sign, the derived key and the
/// `Authorization` header.
public struct SigV4Signer: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The headers to send with `request` at `date`: `x-amz-date`, `x-amz-content-sha256`,
    /// `x-amz-security-token` (with temporary credentials) and `Authorization`, in that order.
    public func headers(for request: SignableRequest, at date: Date) -> [(name: String, value: String)] {
        let stamp = Self.timestamp(date)
        var added = [("x-amz-date", stamp), ("x-amz-content-sha256", request.payloadHash)]
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        let signature = signature(for: request, adding: added, timestamp: stamp)
        added.append(("Authorization", signature.authorization))
        return added.map { (name: $0.0, value: $0.1) }
    }

    /// What signing computes, step by step, for tests and for error messages that show
    /// what was signed.
    public struct Signature: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signedHeaders: String
        public var signature: String
        public var authorization: String
    }

    public func signature(for request: SignableRequest, adding added: [(String, String)], timestamp: String)
        -> Signature
    {
        let day = String(timestamp.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        // Header names lower-cased, values trimmed with inner runs of spaces made one, sorted.
        var headers: [(String, String)] = [("host", request.host)]
        headers += request.headers.map { ($0.name.lowercased(), Self.trimmed($0.value)) }
        headers += added.map { ($0.0.lowercased(), $0.1) }
        let grouped = Dictionary(grouping: headers, by: \.0).mapValues { $0.map(\.1).joined(separator: ",") }
        let names = grouped.keys.sorted()
        let signedHeaders = names.joined(separator: ";")
        let canonicalHeaders = names.map { "\($0):\(grouped[$0]!)\n" }.joined()
        let canonicalRequest = [
            request.method, request.encodedPath, request.encodedQuery, canonicalHeaders, signedHeaders,
            request.payloadHash,
        ].joined(separator: "\n")
        let stringToSign = [
            "AWS4-HMAC-SHA256", timestamp, scope, Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8))),
        ].joined(separator: "\n")
        var key = SymmetricKey(data: Data(("AWS4" + credentials.secretAccessKey).utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signedHeaders: signedHeaders,
            signature: signature, authorization: authorization)
    }

    /// The hex SHA-256 of an empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// `20130524T000000Z`.
    public static func timestamp(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&time, &parts)
        func digits(_ value: Int32, _ count: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, count - text.count)) + text
        }
        return digits(parts.tm_year + 1900, 4) + digits(parts.tm_mon + 1, 2) + digits(parts.tm_mday, 2) + "T"
            + digits(parts.tm_hour, 2) + digits(parts.tm_min, 2) + digits(parts.tm_sec, 2) + "Z"
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters, as SigV4
    /// wants it: UTF-8 bytes, upper-case hex, a space as `%20`, `/` encoded too.
    public static func encode(_ text: String) -> String {
        var encoded = ""
        encoded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                encoded += "%" + hexDigits[Int(byte >> 4)] + hexDigits[Int(byte & 0x0F)]
            }
        }
        return encoded
    }

    private static let hexDigits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]

    private static func trimmed(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
