-- The regions the emulator offers: those of Temporal's regions page (docs.temporal.io/cloud/
-- regions and its per-provider lists), as read for this version. AWS and GCP are complete
-- there; of the Azure list only Central US could be confirmed, so the other Azure regions are
-- left out rather than guessed (a script should not pass here and fail against the service).
local function region(provider, code, location)
  local prefix = provider:lower()
  return { id = prefix .. "-" .. code, cloud_provider = "CLOUD_PROVIDER_" .. provider,
           cloud_provider_region = code, location = location }
end

local M = {
  region("AWS", "ap-northeast-1", "Tokyo"),
  region("AWS", "ap-northeast-2", "Seoul"),
  region("AWS", "ap-south-1", "Mumbai"),
  region("AWS", "ap-south-2", "Hyderabad"),
  region("AWS", "ap-southeast-1", "Singapore"),
  region("AWS", "ap-southeast-2", "Sydney"),
  region("AWS", "ca-central-1", "Central Canada"),
  region("AWS", "eu-central-1", "Frankfurt"),
  region("AWS", "eu-west-1", "Ireland"),
  region("AWS", "eu-west-2", "London"),
  region("AWS", "sa-east-1", "São Paulo"),
  region("AWS", "us-east-1", "Northern Virginia"),
  region("AWS", "us-east-2", "Ohio"),
  region("AWS", "us-west-2", "Oregon"),
  region("GCP", "asia-south1", "Mumbai"),
  region("GCP", "asia-southeast2", "Jakarta"),
  region("GCP", "europe-west3", "Frankfurt"),
  region("GCP", "us-central1", "Iowa"),
  region("GCP", "us-east4", "Northern Virginia"),
  region("GCP", "us-west1", "Oregon"),
  region("AZURE", "centralus", "Central US"),
}

-- Which regions a namespace may replicate between: the page's "Multi-Region Replication" and
-- "Multi-Cloud Replication" lists put them in groups whose members all pair with each other.
-- A region in no group (aws-sa-east-1, gcp-asia-southeast2) has no replica elsewhere.
local GROUPS = {
  asia_pacific = { "aws-ap-northeast-1", "aws-ap-northeast-2", "aws-ap-south-1", "aws-ap-south-2",
                   "aws-ap-southeast-1", "aws-ap-southeast-2", "gcp-asia-south1" },
  europe = { "aws-eu-central-1", "aws-eu-west-1", "aws-eu-west-2", "gcp-europe-west3" },
  north_america = { "aws-ca-central-1", "aws-us-east-1", "aws-us-east-2", "aws-us-west-2",
                    "gcp-us-central1", "gcp-us-east4", "gcp-us-west1", "azure-centralus" },
}
local group_of = {}
for name, ids in pairs(GROUPS) do
  for _, id in ipairs(ids) do group_of[id] = name end
end

-- The regions whose entry says "Same Region Replication: Available" (docs.temporal.io/cloud/
-- regions): a namespace may have its two replicas there, in two cells of the region.
local SAME_REGION = { ["aws-ap-southeast-2"] = true, ["aws-us-east-1"] = true, ["aws-us-west-2"] = true }

-- Whether the region offers same-region replication.
function M.same_region(id)
  return SAME_REGION[id] == true
end

-- Whether a namespace may have replicas in both regions: two of one group, or twice a region
-- that offers same-region replication.
function M.can_replicate(a, b)
  if a == b then return SAME_REGION[a] == true end
  return group_of[a] ~= nil and group_of[a] == group_of[b]
end

M.by_id = {}
for _, r in ipairs(M) do
  -- The pre-v0.3.0 provider string, as old clients read it.
  r.cloud_provider_deprecated = r.cloud_provider:match("^CLOUD_PROVIDER_(.*)$"):lower()
  M.by_id[r.id] = r
end

return M
