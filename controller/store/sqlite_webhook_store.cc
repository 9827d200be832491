#include "controller/store/sqlite_webhook_store.h"

#include <boost/json.hpp>

#include "controller/store/sqlite_stmt.h"

namespace autovibe {
namespace {

namespace json = boost::json;

std::string KindsJson(const std::vector<NotificationKind>& kinds) {
  json::array a;
  for (NotificationKind k : kinds) a.emplace_back(ToString(k));
  return json::serialize(a);
}

// Stored JSON is written by us; damaged by hand, it reads as empty rather than crashing.
std::vector<NotificationKind> ParseKinds(const std::string& text) {
  std::vector<NotificationKind> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& k : v.as_array()) {
    if (!k.is_string()) continue;
    if (auto kind = ParseSubscribableKind(k.as_string())) out.push_back(*kind);
  }
  return out;
}

std::string AttemptsJson(const std::vector<DeliveryAttempt>& attempts) {
  json::array a;
  for (const DeliveryAttempt& t : attempts) {
    a.push_back(json::object{
        {"at", t.at_ms}, {"status", t.status}, {"error", t.error}, {"duration_ms", t.duration_ms}});
  }
  return json::serialize(a);
}

std::vector<DeliveryAttempt> ParseAttempts(const std::string& text) {
  std::vector<DeliveryAttempt> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& item : v.as_array()) {
    const json::object* o = item.if_object();
    if (o == nullptr) continue;
    DeliveryAttempt t;
    auto num = [o](std::string_view key) -> int64_t {
      const json::value* x = o->if_contains(key);
      return x != nullptr && x->is_int64() ? x->as_int64() : 0;
    };
    t.at_ms = num("at");
    t.status = static_cast<int>(num("status"));
    t.duration_ms = num("duration_ms");
    if (const json::value* e = o->if_contains("error"); e != nullptr && e->is_string()) {
      t.error = std::string(e->as_string());
    }
    out.push_back(std::move(t));
  }
  return out;
}

constexpr const char* kDeliveryColumns =
    "SELECT seq, id, webhook_id, event_key, kind, body, state, next_attempt_at, attempts_json,"
    " created_at FROM webhook_deliveries ";

WebhookDelivery ReadDelivery(Stmt& st) {
  WebhookDelivery d;
  d.seq = st.Int(0);
  d.id = st.Text(1);
  d.webhook_id = st.Text(2);
  d.event_key = st.Text(3);
  d.kind = ParseSubscribableKind(st.Text(4)).value_or(NotificationKind::kTest);
  d.body = st.Text(5);
  d.state = ParseDeliveryState(st.Text(6)).value_or(DeliveryState::kFailed);
  d.next_attempt_at_ms = st.Int(7);
  d.attempts = ParseAttempts(st.Text(8));
  d.created_at_ms = st.Int(9);
  return d;
}

class SqliteWebhookStore final : public WebhookStore {
 public:
  explicit SqliteWebhookStore(sqlite3* db) : db_(db) {}

  Result<std::vector<Webhook>> LoadWebhooks() override {
    Stmt st(db_,
            "SELECT id, url, kinds_json, project, format, secret, ca_pem, created_at"
            " FROM webhooks ORDER BY created_at, id");
    if (!st.ok()) return Fail("load webhooks");
    std::vector<Webhook> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      out.push_back(Webhook{.id = st.Text(0),
                            .url = st.Text(1),
                            .kinds = ParseKinds(st.Text(2)),
                            .project = st.Text(3),
                            .format = ParseWebhookFormat(st.Text(4)).value_or(WebhookFormat::kJson),
                            .secret = st.Text(5),
                            .ca_pem = st.Text(6),
                            .created_at_ms = st.Int(7)});
    }
    if (rc != SQLITE_DONE) return Fail("load webhooks");
    return out;
  }

  Result<void> SaveWebhook(const Webhook& w) override {
    Stmt st(db_,
            "INSERT INTO webhooks(id, url, kinds_json, project, format, secret, ca_pem, created_at)"
            " VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(id) DO UPDATE SET url=?2,"
            " kinds_json=?3, project=?4, format=?5, secret=?6, ca_pem=?7, created_at=?8");
    if (!st.ok()) return Fail("save webhook");
    st.Bind(1, w.id);
    st.Bind(2, w.url);
    st.Bind(3, KindsJson(w.kinds));
    st.Bind(4, w.project);
    st.Bind(5, ToString(w.format));
    st.Bind(6, w.secret);
    st.Bind(7, w.ca_pem);
    st.Bind(8, w.created_at_ms);
    if (st.Step() != SQLITE_DONE) return Fail("save webhook " + w.id);
    return {};
  }

  Result<void> DeleteWebhook(std::string_view id) override {
    for (const char* sql : {"DELETE FROM webhook_deliveries WHERE webhook_id = ?1",
                            "DELETE FROM webhooks WHERE id = ?1"}) {
      Stmt st(db_, sql);
      if (!st.ok()) return Fail("delete webhook");
      st.Bind(1, id);
      if (st.Step() != SQLITE_DONE) return Fail("delete webhook");
    }
    return {};
  }

  Result<bool> InsertDelivery(WebhookDelivery& d) override {
    Stmt st(db_,
            "INSERT INTO webhook_deliveries(id, webhook_id, event_key, kind, body, state,"
            " next_attempt_at, attempts_json, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"
            " ON CONFLICT(webhook_id, event_key) DO NOTHING");
    if (!st.ok()) return Fail("insert delivery");
    st.Bind(1, d.id);
    st.Bind(2, d.webhook_id);
    st.Bind(3, d.event_key);
    st.Bind(4, ToString(d.kind));
    st.Bind(5, d.body);
    st.Bind(6, ToString(d.state));
    st.Bind(7, d.next_attempt_at_ms);
    st.Bind(8, AttemptsJson(d.attempts));
    st.Bind(9, d.created_at_ms);
    if (st.Step() != SQLITE_DONE) return Fail("insert delivery " + d.id);
    if (sqlite3_changes(db_) != 1) return false;
    d.seq = sqlite3_last_insert_rowid(db_);
    return true;
  }

  Result<void> UpdateDelivery(const WebhookDelivery& d) override {
    Stmt st(db_,
            "UPDATE webhook_deliveries SET state = ?2, next_attempt_at = ?3, attempts_json = ?4"
            " WHERE id = ?1");
    if (!st.ok()) return Fail("update delivery");
    st.Bind(1, d.id);
    st.Bind(2, ToString(d.state));
    st.Bind(3, d.next_attempt_at_ms);
    st.Bind(4, AttemptsJson(d.attempts));
    if (st.Step() != SQLITE_DONE) return Fail("update delivery " + d.id);
    return {};
  }

  Result<std::vector<WebhookDelivery>> PendingDeliveries() override {
    Stmt st(db_, (std::string(kDeliveryColumns) + "WHERE state = 'pending' ORDER BY seq").c_str());
    return ReadAll(st, "load pending deliveries");
  }

  Result<std::vector<WebhookDelivery>> Deliveries(std::string_view webhook_id,
                                                  size_t limit) override {
    Stmt st(db_,
            (std::string(kDeliveryColumns) + "WHERE webhook_id = ?1 ORDER BY seq DESC LIMIT ?2")
                .c_str());
    st.Bind(1, webhook_id);
    st.Bind(2, static_cast<int64_t>(limit));
    return ReadAll(st, "load deliveries");
  }

  Result<std::vector<std::string>> PruneDeliveries(std::string_view webhook_id,
                                                   size_t keep) override {
    Stmt st(db_,
            "DELETE FROM webhook_deliveries WHERE webhook_id = ?1 AND seq <= (SELECT seq FROM"
            " webhook_deliveries WHERE webhook_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)"
            " RETURNING id");
    if (!st.ok()) return Fail("prune deliveries");
    st.Bind(1, webhook_id);
    st.Bind(2, static_cast<int64_t>(keep));
    std::vector<std::string> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) out.push_back(st.Text(0));
    if (rc != SQLITE_DONE) return Fail("prune deliveries");
    return out;
  }

 private:
  Result<std::vector<WebhookDelivery>> ReadAll(Stmt& st, const std::string& what) {
    if (!st.ok()) return Fail(what);
    std::vector<WebhookDelivery> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) out.push_back(ReadDelivery(st));
    if (rc != SQLITE_DONE) return Fail(what);
    return out;
  }

  Error Fail(const std::string& what) {
    return MakeError(ErrorCode::kStore, what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_;
};

}  // namespace

std::unique_ptr<WebhookStore> NewSqliteWebhookStore(sqlite3* db) {
  return std::make_unique<SqliteWebhookStore>(db);
}

}  // namespace autovibe
