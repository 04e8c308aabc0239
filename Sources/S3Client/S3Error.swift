/// Why a request to the bucket failed, in one sentence that names the bucket and what to do.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    public enum Problem: Sendable, Hashable {
        /// The server answered with an error status (and usually an `<Error>` body).
        case answer(status: Int, code: String, message: String)
        /// A conditional write found the object not as required (412).
        case preconditionFailed
        /// The server could not be reached, or the connection failed.
        case transport(String)
        case invalidEndpoint(String)
        case malformedAnswer(String)
        case unreadableFile(String, String)
    }

    public var bucket: String
    public var key: String?
    public var problem: Problem

    public init(bucket: String, key: String?, problem: Problem) {
        self.bucket = bucket
        self.key = key
        self.problem = problem
    }

    /// An error answer: its S3 error code and message from the `<Error>` body.
    init(bucket: String, key: String?, status: Int, body: [UInt8], method: String) {
        self.bucket = bucket
        self.key = key
        if status == 412 {
            problem = .preconditionFailed
            return
        }
        let text = String(decoding: body.prefix(4096), as: UTF8.self)
        // A HEAD answer has no body to say why.
        let code =
            XMLText.elements("Code", in: text).first
            ?? (status == 404 ? "NoSuchKey" : status == 403 ? "AccessDenied" : "HTTP\(status)")
        problem = .answer(status: status, code: code, message: XMLText.elements("Message", in: text).first ?? "")
    }

    public var isNotFound: Bool {
        if case .answer(404, let code, _) = problem { return code != "NoSuchBucket" }
        return false
    }

    /// Whether trying again may succeed: a server error, throttling, a dropped connection.
    var mayPass: Bool {
        switch problem {
        case .answer(let status, let code, _): status >= 500 || status == 429 || code == "SlowDown"
        case .transport: true
        default: false
        }
    }

    public var description: String {
        let object = key.map { "bucket '\(bucket)', object '\($0)'" } ?? "bucket '\(bucket)'"
        switch problem {
        case .answer(let status, let code, let message):
            let said = message.isEmpty ? code : "\(code): \(message)"
            return "\(object): the server answered \(status) (\(said)); \(advice(code: code, status: status))"
        case .preconditionFailed:
            return
                "\(object): the object is not as the write required (412 Precondition Failed): another writer changed it"
        case .transport(let detail):
            return
                "\(object): the endpoint could not be reached (\(detail)); check S3-Endpoint in depot.conf and the network"
        case .invalidEndpoint(let endpoint):
            return "\(object): '\(endpoint)' is not an endpoint URL such as https://s3.eu-central-1.amazonaws.com"
        case .malformedAnswer(let detail):
            return "\(object): the server's answer was not what S3 sends (\(detail))"
        case .unreadableFile(let path, let detail):
            return "\(object): cannot read \(path) to upload it (\(detail))"
        }
    }

    private func advice(code: String, status: Int) -> String {
        switch code {
        case "NoSuchBucket": "create the bucket, or correct Storage in depot.conf"
        case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
            "check the AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the shared credentials file)"
        case "AccessDenied", "AllAccessDisabled":
            "the credentials may not do this: give them s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the bucket"
        case "QuotaExceeded", "TooManyBuckets", "StorageQuotaExceeded", "XMinioStorageFull":
            "the bucket's quota or storage is full: free space or raise the quota, then run the command again"
        case "AuthorizationHeaderMalformed", "InvalidRequest":
            "check S3-Region in depot.conf"
        default:
            status >= 500
                ? "the service failed; try again later" : "see the storage service's documentation for this code"
        }
    }
}

/// Just enough XML for S3's answers: the text of elements by name, entities decoded.
enum XMLText {
    static func elements(_ name: String, in text: String) -> [String] {
        var found: [String] = []
        var rest = text[...]
        let open = "<\(name)>"
        let close = "</\(name)>"
        while let start = rest.range(of: open), let end = rest.range(of: close, range: start.upperBound..<rest.endIndex)
        {
            found.append(unescaped(String(rest[start.upperBound..<end.lowerBound])))
            rest = rest[end.upperBound...]
        }
        return found
    }

    /// Whether a body is an `<Error>` document.
    static func isError(_ body: [UInt8]) -> Bool {
        String(decoding: body.prefix(512), as: UTF8.self).contains("<Error>")
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func unescaped(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var result = ""
        var rest = text[...]
        while let ampersand = rest.firstIndex(of: "&") {
            result += rest[..<ampersand]
            guard let semicolon = rest[ampersand...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: ampersand)..<semicolon]
            switch entity {
            case "amp": result += "&"
            case "lt": result += "<"
            case "gt": result += ">"
            case "quot": result += "\""
            case "apos": result += "'"
            default:
                let number =
                    entity.hasPrefix("#x")
                    ? UInt32(entity.dropFirst(2), radix: 16) : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                if let scalar = number.flatMap(Unicode.Scalar.init) {
                    result.unicodeScalars.append(scalar)
                } else {
                    result += "&\(entity);"
                }
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return result + rest
    }
}
