-- The ModelVersion part of its Argo CD health check: deploy/argocd/argocd-cm.yaml carries
-- _prelude.lua followed by this file (hack/gen_argocd_cm.py assembles them).

-- ModelVersion: Healthy when it serves (Ready) or is not meant to (serving disabled, retired);
-- Degraded when its registry record or its model server failed; Progressing while deploying.
local s = obj.status
local registered = condition("Registered")
if registered ~= nil and registered.status == "False" then
  return judged("Degraded", because(registered, "not recorded in the registry"))
end
local ready = condition("Ready")
if s.ready == true then
  hs.status = "Healthy"
  hs.message = "serving"
  if s.role ~= nil then
    hs.message = hs.message .. " as " .. s.role
  end
  if s.url ~= nil then
    hs.message = hs.message .. " at " .. s.url
  end
  return hs
end
if ready ~= nil and (ready.reason == "ServingDisabled" or ready.reason == "Retired") then
  return judged("Healthy", "not serving, as intended: " .. said(ready, ready.reason))
end
if ready ~= nil and ready.reason == "ModelLoadFailed" then
  return judged("Degraded", because(ready, "the model server failed to load the model"))
end
return judged("Progressing", said(ready, "waiting for its InferenceService"))
