import DepotCore
import Dispatch
import Foundation
import Hummingbird
import NIOCore

/// `/api/v1/`: the library's operations over HTTP, each behind a token scope (SPEC §5).
struct API: Sendable {
    let repository: Repository
    let maximumUploadSize: Int
    /// Tells whether a request's client is still there, so that a change that waited for
    /// the repository is not made for a client that gave up.
    let connections: ConnectionTracker

    func register(on router: Router<DepotRequestContext>) {
        let api = router.group("api/v1")
        api.post("distributions/:dist/packages") { request, context in try await push(request, context) }
        api.get("distributions/:dist/packages") { request, context in try await list(request, context) }
        api.delete("distributions/:dist/packages/:name") { request, context in try await remove(request, context) }
        api.post("distributions/:dist/rollback") { request, context in try await rollback(request, context) }
        api.post("promotions") { request, context in try await promote(request, context) }
        api.post("distributions/:dist/phases") { request, context in try await phase(request, context) }
        api.post("distributions/:dist/approvals") { request, context in try await approve(request, context) }
        api.get("packages/:name") { request, context in try await show(request, context) }
        api.get("diff") { request, context in try await diff(request, context) }
        api.get("history") { request, context in try await history(request, context) }
    }

    // MARK: - Calls

    private func push(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let distribution = try context.parameters.require("dist")
        let token = try await authorize(request, .push, on: distribution)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maximumUploadSize {
            throw APIError(DepotError.tooLarge(name: "request body", limit: maximumUploadSize))
        }
        let query = try queryParameters(request, accepting: ["note", "component", "allowDowngrade", "overrideGates"])
        let allowDowngrade = try flag(query, "allowDowngrade")
        let overrideGates = try flag(query, "overrideGates")
        if overrideGates && !token.allows(.override, on: distribution) { throw forbidden(token, .override, distribution) }
        let upload = try run { try Upload(into: repository, name: "request body", limit: maximumUploadSize) }
        // The body goes to disk piece by piece as it arrives; a client that disconnects
        // midway ends the loop with an error and the upload is discarded.
        do {
            for try await buffer in request.body {
                try run { try buffer.withUnsafeReadableBytes { try upload.append($0) } }
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.clientClosedRequest
        }
        let push = PushRequest(
            distribution: distribution, component: query["component"], allowDowngrade: allowDowngrade,
            overrideGates: overrideGates)
        let outcomes = try await blocking {
            try repository.push(
                upload, as: push, context: try operationContext(token, request, context, note: query["note"]))
        }
        return try json(outcomes, status: outcomes.contains { $0.status == .added } ? .created : .ok)
    }

    /// `POST /api/v1/promotions`: a `PromotionRequest`, as JSON, and a note.
    private struct PromotionBody: RequestBody {
        var packages: [String]?
        var all: Bool?
        var from: String
        var to: String?
        var dryRun: Bool?
        var allowDowngrade: Bool?
        var withDeps: Bool?
        var ignoreDependencies: Bool?
        var phase: Int?
        var overrideGates: Bool?
        var note: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case packages, all, from, to, dryRun, allowDowngrade, withDeps, ignoreDependencies, phase, overrideGates
            case note
        }

        var request: PromotionRequest {
            PromotionRequest(
                packages: packages ?? [], all: all ?? false, from: from, to: to, dryRun: dryRun ?? false,
                allowDowngrade: allowDowngrade ?? false, withDependencies: withDeps ?? false,
                checkDependencies: !(ignoreDependencies ?? false), phase: phase, overrideGates: overrideGates ?? false)
        }
    }

    private func promote(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let body = try await decode(PromotionBody.self, request)
        guard let target = body.to ?? repository.configuration.distribution(body.from)?.promotesTo else {
            throw APIError(.badRequest, "invalid-request", "\(body.from) promotes to no distribution: give \"to\"")
        }
        let token = try await authorize(request, .promote, on: target)
        if body.overrideGates == true && !token.allows(.override, on: target) {
            throw forbidden(token, .override, target)
        }
        let promotion = try await blocking {
            try repository.promote(body.request, context: try operationContext(token, request, context, note: body.note))
        }
        return try json(promotion)
    }

    /// `POST .../phases`: a `PhaseRequest` (`percentage`, or `ramp` and `every`), as JSON, and a note.
    private struct PhaseBody: RequestBody {
        var package: String
        var percentage: Int?
        var ramp: [Int]?
        var every: String?
        var note: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case package, percentage, ramp, every, note
        }
    }

    private func phase(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let distribution = try context.parameters.require("dist")
        let token = try await authorize(request, .promote, on: distribution)
        let body = try await decode(PhaseBody.self, request)
        let phase = PhaseRequest(
            distribution: distribution, package: body.package, percentage: body.percentage, ramp: body.ramp,
            every: body.every)
        _ = try run { try phase.plan() }
        let operation = try operationContext(token, request, context, note: body.note)
        return try json(try await blocking { try repository.phase(phase, context: operation) })
    }

    /// `POST .../approvals`: an `ApprovalRequest`, as JSON, and a note.
    private struct ApprovalBody: RequestBody {
        var package: String
        var version: String
        var from: String?
        var note: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case package, version, from, note
        }
    }

    private func approve(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let distribution = try context.parameters.require("dist")
        let token = try await authorize(request, .approve, on: distribution)
        let body = try await decode(ApprovalBody.self, request)
        let approval = ApprovalRequest(
            distribution: distribution, package: body.package, version: body.version, from: body.from)
        let operation = try operationContext(token, request, context, note: body.note)
        let approvals = try await blocking { try repository.approve(approval, context: operation) }
        return try json(approvals, status: .created)
    }

    private func list(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let distribution = try context.parameters.require("dist")
        _ = try await authorize(request, .read, on: distribution)
        return try json(try await blocking { try repository.list(distribution: distribution) })
    }

    private func show(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        _ = try await authorize(request, .read, on: "*")
        return try json(try await blocking { try repository.show(package: name) })
    }

    private func diff(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let query = try queryParameters(request, accepting: ["from", "to"])
        guard let from = query["from"], let to = query["to"] else {
            throw APIError(.badRequest, "invalid-request", "give both ?from=DIST&to=DIST")
        }
        let token = try await authorize(request, .read, on: from)
        guard token.allows(.read, on: to) else { throw forbidden(token, .read, to) }
        return try json(try await blocking { try repository.diff(from: from, to: to) })
    }

    private func history(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let query = try queryParameters(request, accepting: ["dist", "limit"])
        let distribution = query["dist"]
        _ = try await authorize(request, .read, on: distribution ?? "*")
        var limit: Int? = nil
        if let text = query["limit"] {
            guard let value = Int(text), value > 0 else {
                throw APIError(.badRequest, "invalid-request", "limit must be a positive number, not '\(text)'")
            }
            limit = value
        }
        let count = limit
        return try json(try await blocking { try repository.history(distribution: distribution, limit: count) })
    }

    private func remove(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let distribution = try context.parameters.require("dist")
        let name = try context.parameters.require("name")
        let token = try await authorize(request, .remove, on: distribution)
        let query = try queryParameters(request, accepting: ["version", "note"])
        let removal = RemovalRequest(
            distribution: distribution, packages: [query["version"].map { "\(name)=\($0)" } ?? name])
        let changes = try await blocking {
            try repository.remove(removal, context: try operationContext(token, request, context, note: query["note"]))
        }
        return try json(changes)
    }

    /// `POST .../rollback`: a `RollbackRequest` (`packages` or `to`), as JSON, and a note.
    private struct RollbackBody: RequestBody {
        var packages: [String]?
        var to: Int64?
        var note: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case packages, to, note
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            packages = try container.decodeIfPresent([String].self, forKey: .packages)
            note = try container.decodeIfPresent(String.self, forKey: .note)
            // Read as any number, so that 1e300 or 2.5 is named as a bad "to" rather than as
            // JSON the decoder could not read.
            if let number = try container.decodeIfPresent(Double.self, forKey: .to) {
                guard let id = Int64(exactly: number), id > 0 else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .to, in: container, debugDescription: "not the id of a history entry")
                }
                to = id
            }
        }
    }

    private func rollback(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let distribution = try context.parameters.require("dist")
        let token = try await authorize(request, .rollback, on: distribution)
        let body = try await decode(RollbackBody.self, request)
        let rollback = RollbackRequest(distribution: distribution, packages: body.packages ?? [], to: body.to)
        try run { try rollback.validate() }
        let operation = try operationContext(token, request, context, note: body.note)
        let outcome = try await blocking { try repository.rollback(rollback, context: operation) }
        return try json(outcome)
    }

    // MARK: - Helpers

    /// The largest JSON body a call takes.
    private static let maximumJSONSize = 1 << 20

    /// The token of the request, if it may do `action` on `distribution`; 401 without a valid
    /// token, 403 without the scope.
    private func authorize(_ request: Request, _ action: Scope.Action, on distribution: String) async throws
        -> TokenRecord
    {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw APIError(.unauthorized, "unauthorized", "send the token as 'Authorization: Bearer TOKEN'")
        }
        let secret = String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        guard let token = try await blocking({ try repository.authenticate(token: secret) }) else {
            throw APIError(.unauthorized, "unauthorized", "unknown or revoked token")
        }
        guard token.allows(action, on: distribution) else { throw forbidden(token, action, distribution) }
        return token
    }

    private func forbidden(_ token: TokenRecord, _ action: Scope.Action, _ distribution: String) -> APIError {
        APIError(
            .forbidden, "forbidden",
            "token '\(token.name)' lacks the scope \(action.rawValue):\(distribution) "
                + "(it has: \(token.scopes.map(\.description).joined(separator: " ")))")
    }

    private func operationContext(
        _ token: TokenRecord, _ request: Request, _ context: DepotRequestContext, note: String?
    ) throws -> OperationContext {
        var operation = try run {
            try OperationContext(user: token.name, command: "\(request.method) \(request.uri.path)", note: note)
        }
        let channel = context.channel
        operation.isCancelled = { [connections] in connections.isClientGone(channel) }
        return operation
    }

    private func decode<T: RequestBody>(_ type: T.Type, _ request: Request) async throws -> T {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.maximumJSONSize)
        } catch is NIOTooManyBytesError {
            throw APIError(
                .contentTooLarge, "too-large", "the request body is larger than \(Self.maximumJSONSize >> 20) MiB")
        } catch {
            throw APIError.clientClosedRequest
        }
        return try T.decode(Data(buffer: body))
    }

    /// The query's parameters, refusing one the call does not take or one given twice: a
    /// misspelt option must not be ignored.
    private func queryParameters(_ request: Request, accepting accepted: Set<String>) throws -> [String: String] {
        var parameters: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            let key = String(key)
            guard accepted.contains(key) else {
                throw APIError(
                    .badRequest, "invalid-request",
                    "unknown query parameter '\(key.prefix(64))'; this call takes "
                        + accepted.sorted().joined(separator: ", "))
            }
            guard parameters.updateValue(String(value), forKey: key) == nil else {
                throw APIError(.badRequest, "invalid-request", "query parameter '\(key)' is given twice")
            }
        }
        return parameters
    }

    /// A true-or-false query parameter, false when absent.
    private func flag(_ query: [String: String], _ name: String) throws -> Bool {
        switch query[name] {
        case nil, "false": return false
        case "true": return true
        case let other?:
            throw APIError(.badRequest, "invalid-request", "\(name) must be true or false, not '\(other.prefix(64))'")
        }
    }

    private func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// Runs a library call, mapping its errors to API errors.
    private func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DepotError {
            throw APIError(error)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.internalFailure(error)
        }
    }

    /// Runs blocking library work (file I/O, SQLite, the repository lock) on a Dispatch
    /// thread, so that waiting for the lock never stalls the server's event loops.
    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await onDispatchThread { try run(body) }
    }
}
