import Foundation

/// An access key, from the standard AWS sources only: never from Depot's own files.
public struct AWSCredentials: Sendable, Hashable {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// For temporary credentials (STS): sent as `x-amz-security-token`.
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// Why no credentials were found, and where they were looked for.
    public struct NotFound: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` when the first two
    /// are set; else the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default
    /// `~/.aws/credentials`), profile `AWS_PROFILE` (default `default`).
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) throws(NotFound)
        -> AWSCredentials
    {
        if let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty,
            let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        {
            return AWSCredentials(
                accessKeyID: key, secretAccessKey: secret,
                sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let path = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        let profile = environment["AWS_PROFILE"] ?? "default"
        let advice =
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile [\(profile)] an aws_access_key_id and an aws_secret_access_key in \(path)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NotFound(description: "no AWS credentials: \(advice)")
        }
        let values = sharedFileProfile(String(decoding: data, as: UTF8.self), named: profile)
        guard let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            throw NotFound(description: "no AWS credentials for profile '\(profile)' in \(path): \(advice)")
        }
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: values["aws_session_token"])
    }

    /// The `key = value` lines of one `[profile]` section of an INI file, keys lower-cased.
    static func sharedFileProfile(_ text: String, named profile: String) -> [String: String] {
        var values: [String: String] = [:]
        var inProfile = false
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                inProfile = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces) == profile
                continue
            }
            guard inProfile, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            values[key] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return values
    }
}
