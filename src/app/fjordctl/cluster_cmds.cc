// fjordctl cluster info | features
#include "absl/strings/str_cat.h"
#include "context.h"
#include "fjord/protocol/messages/api_versions_request.h"
#include "fjord/protocol/messages/api_versions_response.h"

namespace fjord::ctl {

namespace {

absl::Status Info(Context& ctx) {
  absl::StatusOr<client::ClusterInfo> c = ctx.client().Metadata({}, /*all_topics=*/false);
  if (!c.ok()) return c.status();
  Table t({"id", "host", "port", "rack", "controller"});
  Json brokers = Json::MakeArray();
  for (const auto& [id, b] : c->brokers) {
    t.Row({std::to_string(id), b.host, std::to_string(b.port), b.rack.value_or("-"),
           id == c->controller ? "*" : ""});
    brokers.Push(Json::MakeObject()
                     .Set("id", id)
                     .Set("host", b.host)
                     .Set("port", b.port)
                     .Set("rack", b.rack ? Json(*b.rack) : Json()));
  }
  Json j = Json::MakeObject();
  j.Set("cluster_id", c->cluster_id).Set("controller", c->controller).Set("brokers", brokers);
  if (ctx.format == Format::kJson) return ctx.Print(t, j), absl::OkStatus();
  std::printf("cluster id: %s\ncontroller: %d\n\n", c->cluster_id.c_str(), c->controller);
  ctx.Print(t, j);
  return absl::OkStatus();
}

absl::Status Features(Context& ctx) {
  protocol::ApiVersionsRequest req;
  req.client_software_name = "fjordctl";
  req.client_software_version = "1";
  auto resp = ctx.client().Call<protocol::ApiVersionsResponse>(client::Target::Any(), req);
  if (!resp.ok()) return resp.status();
  if (absl::Status s = KafkaError(resp->error_code); !s.ok()) return s;
  Table t({"feature", "supported", "finalized"});
  Json features = Json::MakeArray();
  for (const auto& f : resp->supported_features) {
    std::string finalized = "-";
    Json fin;
    for (const auto& ff : resp->finalized_features) {
      if (ff.name == f.name) {
        finalized = std::to_string(ff.max_version_level);
        fin = Json(static_cast<int>(ff.max_version_level));
      }
    }
    t.Row({f.name, absl::StrCat(f.min_version, "-", f.max_version), finalized});
    features.Push(Json::MakeObject()
                      .Set("name", f.name)
                      .Set("min_version", f.min_version)
                      .Set("max_version", f.max_version)
                      .Set("finalized_level", fin));
  }
  Table apis({"api", "key", "versions"});
  Json api_list = Json::MakeArray();
  for (const auto& v : resp->api_keys) {
    const protocol::ApiInfo* api = protocol::FindApi(v.api_key);
    const std::string name = api ? std::string(api->name) : "?";
    apis.Row({name, std::to_string(v.api_key), absl::StrCat(v.min_version, "-", v.max_version)});
    api_list.Push(Json::MakeObject()
                      .Set("name", name)
                      .Set("key", v.api_key)
                      .Set("min_version", v.min_version)
                      .Set("max_version", v.max_version));
  }
  Json j = Json::MakeObject();
  j.Set("features", features).Set("apis", api_list);
  if (ctx.format == Format::kJson) return ctx.Print(t, j), absl::OkStatus();
  ctx.Print(t, j);
  std::printf("\n");
  ctx.Print(apis, j);
  return absl::OkStatus();
}

}  // namespace

void AddClusterCommands(CLI::App& app, Context& ctx) {
  CLI::App* cluster = app.add_subcommand("cluster", "the cluster: brokers, controller, features");
  cluster->require_subcommand(1);
  CLI::App* info = cluster->add_subcommand(
      "info", "cluster id, controller and brokers\n  e.g. fjordctl cluster info");
  OnRun(info, ctx, [&ctx] { return Info(ctx); });
  CLI::App* features = cluster->add_subcommand(
      "features", "feature versions (KIP-584) and the APIs a broker serves, with versions");
  OnRun(features, ctx, [&ctx] { return Features(ctx); });
}

}  // namespace fjord::ctl
