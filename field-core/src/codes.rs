//! Coded values shared by the job document, the rules and the time-limit engine.
//!
//! Each enum is stored in documents and tables by its snake_case code (`as_str`), and has a
//! Chinese and an English label for people.

/// Defines a string-coded enum with `as_str`, `parse`, `zh`, `en` and `ALL`.
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal, $zh:literal, $en:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $code)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// Every stored code, in the order of `ALL`.
            pub const CODES: &'static [&'static str] = &[$($code,)+];

            /// The stable code stored in documents and tables.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// Parses a stored code; `None` for an unknown one.
            pub fn parse(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// Chinese label.
            pub fn zh(self) -> &'static str {
                match self { $($name::$variant => $zh,)+ }
            }

            /// English label.
            pub fn en(self) -> &'static str {
                match self { $($name::$variant => $en,)+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use coded_enum;

coded_enum! {
    /// Kind of job (用电类别 / 报装类型).
    JobKind {
        LowVoltageResidential = "lv_residential", "低压居民", "low-voltage residential";
        LowVoltageSmallMicro = "lv_small_micro", "低压小微企业", "low-voltage small/micro enterprise";
        LowVoltageOther = "lv_other", "低压非居民", "other low voltage";
        HighVoltage = "hv", "高压（10千伏及以上）", "10 kV and above";
        ResidentialCommunity = "residential_community", "住宅小区", "residential community";
    }
}

impl JobKind {
    pub fn is_low_voltage(self) -> bool {
        matches!(
            self,
            JobKind::LowVoltageResidential
                | JobKind::LowVoltageSmallMicro
                | JobKind::LowVoltageOther
        )
    }
}

coded_enum! {
    /// Roles of domain.md.
    Role {
        CustomerManager = "customer_manager", "客户经理", "customer manager";
        ProjectManager = "project_manager", "项目经理", "project manager";
        OfficeStaff = "office_staff", "营业厅受理/内勤", "office staff";
        Dispatcher = "dispatcher", "服务调度", "dispatcher";
        Admin = "admin", "管理员", "administrator";
    }
}

coded_enum! {
    /// Supply voltage level.
    Voltage {
        V220 = "0.22kv", "220伏", "220 V";
        V380 = "0.4kv", "380伏", "380 V";
        Kv10 = "10kv", "10千伏", "10 kV";
        Kv20 = "20kv", "20千伏", "20 kV";
        Kv35 = "35kv", "35千伏", "35 kV";
        Kv66 = "66kv", "66千伏", "66 kV";
        Kv110 = "110kv", "110千伏", "110 kV";
        Kv220 = "220kv", "220千伏", "220 kV";
    }
}

impl Voltage {
    pub fn is_below_1kv(self) -> bool {
        matches!(self, Voltage::V220 | Voltage::V380)
    }

    /// The nominal voltage in kV.
    pub fn kv(self) -> f64 {
        match self {
            Voltage::V220 => 0.22,
            Voltage::V380 => 0.4,
            Voltage::Kv10 => 10.0,
            Voltage::Kv20 => 20.0,
            Voltage::Kv35 => 35.0,
            Voltage::Kv66 => 66.0,
            Voltage::Kv110 => 110.0,
            Voltage::Kv220 => 220.0,
        }
    }
}

coded_enum! {
    /// Electricity price category (电价类别) the customer will be billed on.
    Tariff {
        Residential = "residential", "居民生活用电", "residential";
        CommercialIndustrial = "commercial_industrial", "工商业及其他用电", "commercial, industrial and other";
        LargeIndustrial = "large_industrial", "大工业用电", "large industrial";
        Agricultural = "agricultural", "农业生产用电", "agricultural production";
    }
}

coded_enum! {
    /// Load importance (GB/T 29328-2018).
    Importance {
        Normal = "normal", "普通用户", "normal";
        Special = "special", "特级重要用户", "special-grade important";
        First = "first", "一级重要用户", "first-grade important";
        Second = "second", "二级重要用户", "second-grade important";
        Temporary = "temporary", "临时性重要用户", "temporary important";
    }
}

coded_enum! {
    /// Number of supply sources.
    Source {
        Single = "single", "单电源", "single source";
        Dual = "dual", "双电源", "dual source";
    }
}

coded_enum! {
    /// Special loads that require design review and mid inspection.
    SpecialLoad {
        Harmonic = "harmonic", "高次谐波", "harmonics";
        Impact = "impact", "冲击性负荷", "impact load";
        Fluctuating = "fluctuating", "波动负荷", "fluctuating load";
        Asymmetric = "asymmetric", "非对称性负荷", "asymmetric load";
    }
}

coded_enum! {
    /// Development-zone level of the customer's site.
    DevZone {
        None = "none", "非开发区", "not in a development zone";
        Municipal = "municipal", "市级开发区", "municipal development zone";
        Provincial = "provincial", "省级开发区", "provincial development zone";
        National = "national", "国家级开发区", "national development zone";
    }
}

coded_enum! {
    /// Health grade of the grid cell the customer connects to.
    GridHealth {
        Healthy = "healthy", "健康", "healthy";
        SubHealthy = "sub_healthy", "亚健康", "sub-healthy";
        Sick = "sick", "病态", "sick";
    }
}

coded_enum! {
    /// Inspections of the customer's works.
    InspectionKind {
        DesignReview = "design_review", "设计审查", "design review";
        Mid = "mid", "中间检查", "mid inspection";
        Completion = "completion", "竣工检验", "completion inspection";
    }
}

coded_enum! {
    /// Where an outage plan (停电计划) stands with the grid's dispatching (停送电计划编报).
    OutageState {
        Draft = "draft", "编制中", "being drafted";
        Submitted = "submitted", "已报送", "submitted";
        Approved = "approved", "已批准", "approved";
        Rejected = "rejected", "未批准", "rejected";
    }
}

coded_enum! {
    /// What a firm of the customer's works does (客户工程设计、施工单位).
    FirmRole {
        Design = "design", "设计单位", "design firm";
        Construction = "construction", "施工单位", "construction firm";
    }
}

coded_enum! {
    /// Office review of synced work.
    ReviewState {
        Pending = "pending", "待审核", "pending review";
        Approved = "approved", "审核通过", "approved";
        Returned = "returned", "退回整改", "returned with findings";
    }
}

coded_enum! {
    /// Milestones on the job's timeline.
    MilestoneEvent {
        Accepted = "accepted", "受理申请", "application accepted";
        HandedOver = "handed_over", "转客户经理", "handed over to customer manager";
        ProjectManagerAppointed = "pm_appointed", "聘任项目经理", "project manager appointed";
        SurveyDone = "survey_done", "现场勘查完成", "site survey done";
        SupplyPlanReplied = "supply_plan_replied", "供电方案答复", "supply plan replied";
        PlanConfirmed = "plan_confirmed", "客户确认供电方案", "supply plan confirmed by the customer";
        ApprovalApplied = "approval_applied", "行政审批申请", "administrative approval applied";
        ApprovalGranted = "approval_granted", "行政审批办结", "administrative approval granted";
        DesignReviewRequested = "design_review_requested", "受理设计审查", "design review requested";
        DesignReviewReplied = "design_review_replied", "设计审查答复", "design review replied";
        MidInspectionRequested = "mid_inspection_requested", "受理中间检查", "mid inspection requested";
        MidInspectionReplied = "mid_inspection_replied", "中间检查答复", "mid inspection replied";
        WorksStarted = "works_started", "配套工程开工", "supporting works started";
        WorksCompleted = "works_completed", "配套工程完工", "supporting works completed";
        CompletionInspectionRequested = "completion_inspection_requested", "受理竣工检验", "completion inspection requested";
        CompletionInspectionReplied = "completion_inspection_replied", "竣工检验答复", "completion inspection replied";
        CompletionInspectionPassed = "completion_inspection_passed", "竣工检验合格", "completion inspection passed";
        ContractSigned = "contract_signed", "签订供用电合同", "supply contract signed";
        FeesPaid = "fees_paid", "费用结清", "fees paid";
        MeterInstalled = "meter_installed", "装表", "meter installed";
        PoweredOn = "powered_on", "送电", "powered on";
        ReturnVisitDone = "return_visit_done", "回访完成", "return visit done";
        ReviewSubmitted = "review_submitted", "提交审核", "submitted for review";
        Archived = "archived", "归档", "archived";
    }
}

coded_enum! {
    /// Why a photo was taken.
    PhotoPurpose {
        Survey = "survey", "现场勘查", "site survey";
        Meter = "meter", "计量装置", "metering";
        Construction = "construction", "工程施工", "construction";
        DocumentProof = "document_proof", "资料凭证", "document proof";
        Other = "other", "其他", "other";
    }
}

coded_enum! {
    /// Where the job stands, derived from its milestones.
    JobStatus {
        Accepted = "accepted", "已受理", "accepted";
        HandedOver = "handed_over", "已转客户经理", "with customer manager";
        Surveyed = "surveyed", "已勘查", "surveyed";
        PlanReplied = "plan_replied", "方案已答复", "supply plan replied";
        Works = "works", "工程实施中", "works in progress";
        Inspection = "inspection", "竣工检验", "completion inspection";
        ReadyToPowerOn = "ready_to_power_on", "待送电", "ready to power on";
        PoweredOn = "powered_on", "已送电", "powered on";
        Closed = "closed", "已归档", "closed";
    }
}
