import DebianFormat
import Foundation

/// Where the served tree lives when it is not `public/` under the root: an S3-compatible
/// bucket (depot.conf(5): `Storage`, `S3-Endpoint`, `S3-Region`, `S3-Addressing`, `S3-ACL`,
/// `Public-URL`, `GC-Grace`).
public struct ObjectStorageConfiguration: Sendable, Hashable {
    public enum Addressing: String, Sendable, Hashable, CaseIterable {
        case path
        case virtual
    }

    public var bucket: String
    /// The key prefix below which `pool/`, `dists/` and `archive-key.asc` live, without
    /// leading or trailing `/`; empty for the bucket's top.
    public var prefix: String
    /// `scheme://host[:port]`; nil for AWS's endpoint of `region`.
    public var endpoint: String?
    public var region: String
    /// nil: virtual-hosted on AWS, path-style elsewhere.
    public var addressing: Addressing?
    /// A canned ACL sent with every object (`x-amz-acl`), for servers that grant anonymous
    /// reads object by object; nil (the default) leaves access to the bucket's policy.
    public var acl: String?
    /// Where clients read the tree (a CDN, or the bucket's website); `depot serve` redirects
    /// there. nil: the bucket's own URL.
    public var publicURL: String?
    /// Seconds an object stays in the bucket after nothing references it any more, for CDN
    /// caches and clients in the middle of an update.
    public var gcGrace: Int

    public static let defaultRegion = "us-east-1"
    public static let defaultGCGrace = 24 * 3600

    public init(
        bucket: String, prefix: String, endpoint: String? = nil, region: String = defaultRegion,
        addressing: Addressing? = nil, acl: String? = nil, publicURL: String? = nil, gcGrace: Int = defaultGCGrace
    ) {
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.addressing = addressing
        self.acl = acl
        self.publicURL = publicURL
        self.gcGrace = gcGrace
    }

    /// `s3://BUCKET/PREFIX`, as the `Storage` field and `init --storage` write it.
    public var url: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }

    /// The endpoint requests go to.
    public var effectiveEndpoint: String { endpoint ?? "https://s3.\(region).amazonaws.com" }

    public var effectiveAddressing: Addressing { addressing ?? (endpoint == nil ? .virtual : .path) }

    /// The canned ACLs of S3 (a typo would make every upload fail).
    static let cannedACLs: Set<String> = [
        "private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read", "bucket-owner-read",
        "bucket-owner-full-control",
    ]

    /// Reads `s3://BUCKET[/PREFIX]`; the problem, when it is not one, says what is expected.
    public static func parseStorage(_ text: String) -> Result<(bucket: String, prefix: String), StorageFieldError> {
        guard text.hasPrefix("s3://") else {
            return .failure(
                StorageFieldError("Storage must be 's3://BUCKET/PREFIX' (or absent, for public/ under the root), not '\(text)'"))
        }
        let rest = text.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        let prefix = rest.dropFirst(bucket.count).split(separator: "/", omittingEmptySubsequences: true)
        guard isValidBucketName(bucket) else {
            return .failure(
                StorageFieldError(
                    "'\(bucket)' in Storage is not a bucket name: 3 to 63 lower-case letters, digits, '.' and '-', "
                        + "starting and ending with a letter or digit"))
        }
        for component in prefix where component == "." || component == ".." || component.contains(where: \.isNewline) {
            return .failure(StorageFieldError("the prefix in Storage may not contain '\(component)'"))
        }
        if prefix.contains(where: { $0.utf8.contains { $0 < 0x20 || $0 == 0x7f } }) {
            return .failure(StorageFieldError("the prefix in Storage may not contain control characters"))
        }
        return .success((bucket, prefix.joined(separator: "/")))
    }

    static func isValidBucketName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        func alphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || isASCIIDigit(byte)
        }
        guard (3...63).contains(bytes.count), alphanumeric(bytes.first!), alphanumeric(bytes.last!) else { return false }
        return bytes.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
            && !name.contains("..")
    }

    /// Whether `text` is an `http` or `https` URL with a host: what S3-Endpoint and
    /// Public-URL take.
    static func isHTTPURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else { return false }
        return !(url.host ?? "").isEmpty
    }
}

public struct StorageFieldError: Error, Sendable {
    public var problem: String
    init(_ problem: String) { self.problem = problem }
}
