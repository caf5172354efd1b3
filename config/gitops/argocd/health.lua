-- Argo CD health check for xagent.io/XAgent (docs/gitops.md).
-- Install it as resource.customizations.health.xagent.io_XAgent in argocd-cm
-- (config/gitops/argocd/argocd-cm.yaml holds the same text).
--
--   Healthy      Ready is True for the current generation
--   Degraded     Stalled is True (a person must act), or a dependency
--                (Redis, PostgreSQL) is down
--   Progressing  anything else: not yet observed, rolling out, waiting for
--                replicas, retrying a failed request
local hs = { status = "Progressing", message = "Waiting for the operator to report status" }

local function describe(condition)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.reason .. ": " .. condition.message
  end
  return condition.reason or ""
end

if obj.status == nil or obj.status.conditions == nil then
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= generation then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local by_type = {}
for _, condition in ipairs(obj.status.conditions) do
  by_type[condition.type] = condition
end
local ready, stalled, reconciling = by_type["Ready"], by_type["Stalled"], by_type["Reconciling"]

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
elseif ready ~= nil and ready.reason == "DependencyUnavailable" then
  hs.status = "Degraded"
  hs.message = describe(ready)
elseif reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling)
elseif ready ~= nil then
  hs.message = describe(ready)
end
return hs
