-- The TrainingRun part of its Argo CD health check: deploy/argocd/argocd-cm.yaml carries
-- _prelude.lua followed by this file (hack/gen_argocd_cm.py assembles them).

-- TrainingRun: Healthy once it succeeded; Degraded when it failed, was rejected by an evaluation
-- gate, or its Pod has been unschedulable for longer than the operator's pendingTimeout;
-- Progressing while pending, running or evaluating.
local s = obj.status
local phase = s.phase
local message = s.message or phase or ""
if phase == "Succeeded" then
  return judged("Healthy", message)
end
if phase == "Rejected" or phase == "Failed" then
  return judged("Degraded", phase .. ": " .. message)
end
local scheduled = condition("Scheduled")
if scheduled ~= nil and scheduled.status == "False" then
  return judged("Degraded", because(scheduled, "the training Pod cannot be scheduled"))
end
if phase == nil or phase == "Pending" or phase == "Running" or phase == "Evaluating" then
  return judged("Progressing", message)
end
return judged("Unknown", "phase " .. phase .. " is unknown to this health check; update it from the modelops release")
