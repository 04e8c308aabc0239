import Foundation

/// A JSON request body of the API. Decoding is strict: a key the call does not take, a key
/// given twice, or a key given as null is refused rather than ignored, so that a misspelt `"dryrun"` never
/// turns a dry run into a real promotion.
protocol RequestBody: Decodable {
    /// Every key the call takes: declared, so that the decoder and the check share them.
    associatedtype CodingKeys: CodingKey & CaseIterable
}

extension RequestBody {
    static var acceptedKeys: [String] { CodingKeys.allCases.map(\.stringValue) }

    /// Decodes `data`, refusing unknown and repeated keys and explaining type errors by key.
    static func decode(_ data: Data) throws(APIError) -> Self {
        let keys: [String]
        do {
            keys = try TopLevelKeys.of(data)
        } catch {
            throw APIError(.badRequest, "invalid-json", "the request body is not a JSON object: \(error.reason)")
        }
        var seen = Set<String>()
        if let repeated = keys.first(where: { !seen.insert($0).inserted }) {
            throw APIError(.badRequest, "invalid-json", "\"\(escaped(repeated))\" is given twice")
        }
        let unknown = keys.filter { !acceptedKeys.contains($0) }
        guard unknown.isEmpty else {
            throw APIError(
                .badRequest, "invalid-json",
                "unknown key\(unknown.count == 1 ? "" : "s") "
                    + unknown.map { "\"\(escaped($0))\"" }.joined(separator: ", ")
                    + "; this call takes " + acceptedKeys.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        // A null would decode as an absent key, so that `"dryRun": null` made a real promotion:
        // a key given is given a value.
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let null = object.keys.sorted().first(where: { object[$0] is NSNull })
        {
            throw APIError(
                .badRequest, "invalid-json",
                "\"\(escaped(null))\" is null: give it a value, or leave the key out for its default")
        }
        do {
            return try JSONDecoder().decode(Self.self, from: data)
        } catch let error as DecodingError {
            throw APIError(.badRequest, "invalid-json", describe(error))
        } catch {
            throw APIError(.badRequest, "invalid-json", "the request body is not valid JSON")
        }
    }

    /// A key as the client sent it, shown without the control characters it may hold.
    private static func escaped(_ key: String) -> String {
        String(key.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }.prefix(64))
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, _):
            return "\"\(key.stringValue)\" is missing"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "\"\(path(context.codingPath))\" must be \(Self.kind(of: type))"
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            return "\"\(path(context.codingPath))\" is \(context.debugDescription)"
        default:
            return "the request body is not valid JSON"
        }
    }

    private static func kind(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int64.Type, is Int.Type: "a whole number"
        case is [String].Type: "a list of strings"
        default: "of another type"
        }
    }
}

/// The keys of a JSON object's top level, in order and with repetitions, read without
/// building the object.
enum TopLevelKeys {
    struct Malformed: Error {
        var reason: String
    }

    static func of(_ data: Data) throws(Malformed) -> [String] {
        let bytes = [UInt8](data)
        var index = 0
        func skipWhitespace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }
        /// Moves past a string that starts at `index`, returning its raw bytes with the quotes.
        func string() throws(Malformed) -> ArraySlice<UInt8> {
            let start = index
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard index < bytes.count else { throw Malformed(reason: "a string is not closed") }
            index += 1
            return bytes[start..<index]
        }
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else {
            throw Malformed(reason: "it does not start with '{'")
        }
        var keys: [String] = []
        var depth = 0
        var expectingKey = false
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                let raw = try string()
                if depth == 1 && expectingKey {
                    guard let key = try? JSONDecoder().decode(String.self, from: Data(raw)) else {
                        throw Malformed(reason: "a key is not a valid JSON string")
                    }
                    keys.append(key)
                    expectingKey = false
                }
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = depth == 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                expectingKey = depth == 1
            default:
                break
            }
            index += 1
        }
        return keys
    }
}
