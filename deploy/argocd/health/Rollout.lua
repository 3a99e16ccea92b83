-- The Rollout part of its Argo CD health check: deploy/argocd/argocd-cm.yaml carries
-- _prelude.lua followed by this file (hack/gen_argocd_cm.py assembles them).

-- Rollout: Healthy when the version spec.target names serves and the stable is Ready; Suspended
-- while paused or waiting for an approval; Degraded when the candidate was rolled back, aborted or
-- failed, or when the stable itself is not Ready.
local s = obj.status
local phase = s.phase
local ready = condition("Ready")

local function split()
  local t = s.traffic
  if t == nil then
    return ""
  end
  local text = " [stable " .. (t.stable or 0) .. "%, candidate " .. (t.candidate or 0) .. "%"
  if t.mirror ~= nil and t.mirror > 0 then
    text = text .. ", mirror " .. t.mirror .. "%"
  end
  return text .. "]"
end

local function registry(text)
  local synced = condition("RegistrySynced")
  if synced ~= nil and synced.status == "False" then
    return text .. "; MLflow not in sync: " .. said(synced, "aliases not written")
  end
  return text
end

if ready ~= nil and ready.status == "False" and ready.reason ~= "NoStable" then
  return judged("Degraded", because(ready, "the stable version is not Ready") .. split())
end
local message = s.message or phase or ""
if phase == nil or phase == "Progressing" then
  local candidate = condition("CandidateReady")
  if candidate ~= nil and candidate.status == "False" then
    message = message .. " (" .. said(candidate, "the candidate is not Ready") .. ")"
  end
  hs.status = "Progressing"
  hs.message = message .. split()
elseif phase == "Paused" or phase == "AwaitingApproval" then
  hs.status = "Suspended"
  hs.message = phase .. ": " .. message .. split()
elseif phase == "Aborted" or phase == "Failed" then
  hs.status = "Degraded"
  hs.message = phase .. ": " .. message .. split()
elseif phase == "RolledBack" then
  -- The SRE's rollback (spec.target patched back to what serves) is the state asked for;
  -- an automatic rollback leaves spec.target naming a version that does not serve.
  if obj.spec ~= nil and s.stable ~= nil and obj.spec.target == s.stable then
    hs.status = "Healthy"
    hs.message = registry("rolled back to " .. s.stable .. ": " .. message .. split())
  else
    hs.status = "Degraded"
    hs.message = "RolledBack: " .. message .. split()
  end
elseif phase == "Promoted" or phase == "Idle" then
  if ready == nil or ready.status ~= "True" then
    hs.status = "Progressing"
    hs.message = said(ready, "no version serves yet")
  else
    hs.status = "Healthy"
    hs.message = registry(message .. split())
  end
else
  hs.status = "Unknown"
  hs.message = "phase " .. phase .. " is unknown to this health check; update it from the modelops release"
end
return hs
